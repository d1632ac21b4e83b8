using System.Collections.Generic;
using BypassNat.Ssh;

namespace BypassNat.Backends.Nftables
{
    /// <summary>
    /// The bypass router's half in BypassNat's own table (table ip bypassnat). Every other table is left
    /// alone, and the proxy's <c>iptables -t nat -F</c> does not reach it.
    /// </summary>
    public sealed class NftablesBackend : NftablesHopBackend
    {
        public NftablesBackend(RouterSession session = null) : base(session, NftablesTable.Qualified)
        {
        }

        protected override string RemoveStep => "removing the nftables table";

        protected override string Render(IReadOnlyList<BypassForward> forwards, RenderContext context) => NftablesRenderer.Render(forwards, context);

        public override RouterState ParseRead(string output) => NftablesReader.Read(output);

        public override IReadOnlyList<string> ConntrackTargets(IEnumerable<BypassForward> touched, RenderContext context) =>
            RouterScript.BypassConntrackTargets(touched);

        public string RenderRuleset(IEnumerable<BypassForward> forwards) => NftablesRenderer.Render(forwards);
    }
}
