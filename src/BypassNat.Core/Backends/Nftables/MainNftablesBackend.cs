using System.Collections.Generic;
using BypassNat.Ssh;

namespace BypassNat.Backends.Nftables
{
    /// <summary>The main router's half in table ip bypassnat_main.</summary>
    public sealed class MainNftablesBackend : NftablesHopBackend
    {
        private readonly string _wanInterface;

        /// <param name="wanInterface">The WAN interface the rules should match on, to tell a moved WAN from a current one; null when only reading.</param>
        public MainNftablesBackend(RouterSession session = null, string wanInterface = null) : base(session, MainTable.Qualified) => _wanInterface = wanInterface;

        protected override string RemoveStep => "removing the main router's nftables table";

        protected override string Render(IReadOnlyList<BypassForward> forwards, RenderContext context) => MainNftablesRenderer.Render(forwards, context);

        public override RouterState ParseRead(string output) => MainNftablesReader.Read(output, _wanInterface);

        public override IReadOnlyList<string> ConntrackTargets(IEnumerable<BypassForward> touched, RenderContext context) =>
            RouterScript.MainConntrackTargets(touched, context);
    }
}
