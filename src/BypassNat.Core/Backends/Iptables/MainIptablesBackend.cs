using System.Collections.Generic;
using BypassNat.Ssh;

namespace BypassNat.Backends.Iptables
{
    /// <summary>The main router's half in BYPASSNAT_MAIN_PREROUTING and BYPASSNAT_MAIN_POSTROUTING.</summary>
    public sealed class MainIptablesBackend : IptablesHopBackend
    {
        private readonly string _wanInterface;

        /// <param name="wanInterface">The WAN interface the rules should match on, to tell a moved WAN from a current one; null when only reading.</param>
        public MainIptablesBackend(RouterSession session = null, string wanInterface = null)
            : base(session, MainTable.IptablesPrerouting, MainTable.IptablesPostrouting) => _wanInterface = wanInterface;

        // As the probe's own test: the hop's prerouting chain exists.
        public override bool Owns(RouterState state) => ((MainIptablesState)state).Chains.Contains(MainTable.IptablesPrerouting);

        protected override string RemoveStep => "removing the main router's iptables rules";

        protected override string RemoveWhat => "remove the main router's chains (iptables-restore); nothing was removed";

        public override RouterState ParseRead(string output) => MainIptablesReader.Read(output, _wanInterface);

        public override string LoadScript(string privileged, IReadOnlyList<BypassForward> desired, RenderContext context, RouterState current) =>
            Restore(privileged, MainIptablesRenderer.RenderRestore(desired, ((MainIptablesState)current).Jumps, context));

        public override string RemoveScript(string privileged, RouterState current) =>
            current.Present ? Restore(privileged, MainIptablesRenderer.RenderRemoval((MainIptablesState)current)) : null;

        public override string RenderSaved(IReadOnlyList<BypassForward> forwards, RenderContext context) =>
            MainIptablesRenderer.RenderChains(forwards, Hooked, context);

        public override IReadOnlyList<string> ConntrackTargets(IEnumerable<BypassForward> touched, RenderContext context) =>
            RouterScript.MainConntrackTargets(touched, context);
    }
}
