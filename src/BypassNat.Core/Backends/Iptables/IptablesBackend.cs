using System.Collections.Generic;
using BypassNat.Ssh;

namespace BypassNat.Backends.Iptables
{
    /// <summary>The bypass router's half in BYPASSNAT_PREROUTING and BYPASSNAT_POSTROUTING.</summary>
    public sealed class IptablesBackend : IptablesHopBackend
    {
        public IptablesBackend(RouterSession session = null) : base(session, IptablesChains.Prerouting, IptablesChains.Postrouting)
        {
        }

        // As the probe's own test: the hop's prerouting chain exists.
        public override bool Owns(RouterState state) => ((IptablesState)state).HasPreroutingChain;

        protected override string RemoveStep => "removing the iptables rules";

        protected override string RemoveWhat => "remove BypassNat's chains (iptables-restore); nothing was removed";

        public override RouterState ParseRead(string output) => IptablesReader.Read(output);

        public override string LoadScript(string privileged, IReadOnlyList<BypassForward> desired, RenderContext context, RouterState current) =>
            Restore(privileged, IptablesRenderer.RenderRestore(desired, ((IptablesState)current).Jumps, context));

        public override string RemoveScript(string privileged, RouterState current) =>
            current.Present ? Restore(privileged, IptablesRenderer.RenderRemoval((IptablesState)current)) : null;

        public override string RenderSaved(IReadOnlyList<BypassForward> forwards, RenderContext context) =>
            IptablesRenderer.RenderChains(forwards, Hooked, context);

        public override IReadOnlyList<string> ConntrackTargets(IEnumerable<BypassForward> touched, RenderContext context) =>
            RouterScript.BypassConntrackTargets(touched);
    }
}
