using System.Collections.Generic;
using BypassNat.Backends;
using BypassNat.Ssh;

namespace BypassNat.Backends.Iptables
{
    /// <summary>The main router's half in its own nat chains, written with iptables-restore --noflush.</summary>
    public sealed class MainIptablesBackend : ShellBackend
    {
        private readonly string _wanInterface;

        /// <param name="wanInterface">The WAN interface the rules should match on, to tell a moved WAN from a current one; null when only reading.</param>
        public MainIptablesBackend(RouterSession session = null, string wanInterface = null) : base(session) => _wanInterface = wanInterface;

        public override BackendKind Kind => BackendKind.Iptables;

        public override string Tools => "iptables-save, iptables-restore and conntrack";

        public override string LoadTool => "iptables-restore";

        public override string SavedFile => "ruleset.iptables";

        public override bool FirewallIncludesSavedFile => false;

        public override string ListingTool => "iptables-save";

        public override string ProbeFact => "iptables";

        // As the probe's own test: the hop's prerouting chain exists.
        public override bool Owns(RouterState state) => ((MainIptablesState)state).Chains.Contains(MainTable.IptablesPrerouting);

        protected override string ReadStep => "read the nat table (iptables-save -t nat)";

        protected override string RemoveStep => "removing the main router's iptables rules";

        protected override string RemoveWhat => "remove the main router's chains (iptables-restore); nothing was removed";

        public override string ReadScript(string privileged) => privileged + "iptables-save -t nat\n";

        public override RouterState ParseRead(string output) => MainIptablesReader.Read(output, _wanInterface);

        public override string LoadScript(string privileged, IReadOnlyList<BypassForward> desired, RenderContext context, RouterState current) =>
            IptablesBackend.Restore(privileged, MainIptablesRenderer.RenderRestore(desired, ((MainIptablesState)current).Jumps, context));

        public override string RemoveScript(string privileged, RouterState current) =>
            current.Present ? IptablesBackend.Restore(privileged, MainIptablesRenderer.RenderRemoval((MainIptablesState)current)) : null;

        public override string RenderSaved(IReadOnlyList<BypassForward> forwards, RenderContext context) =>
            MainIptablesRenderer.RenderChains(forwards, IptablesBackend.Hooked, context);

        public override string RollbackScript(string privileged, RouterState previous, RenderContext context) =>
            IptablesBackend.Rollback(privileged, MainTable.IptablesPrerouting, MainTable.IptablesPostrouting, previous.Present ? RenderSaved(previous.Forwards, context) : null);

        public override IReadOnlyList<string> ConntrackTargets(IEnumerable<BypassForward> touched, RenderContext context) =>
            RouterScript.MainConntrackTargets(touched, context);
    }
}
