using System.Collections.Generic;
using BypassNat.Backends;
using BypassNat.Iptables;
using BypassNat.Ssh;

namespace BypassNat.Main
{
    /// <summary>The main router's half in its own nat chains, written with iptables-restore --noflush.</summary>
    public sealed class MainIptablesBackend : IRouterBackend
    {
        private const string Tools = "iptables-save, iptables-restore and conntrack";
        private readonly string _wanInterface;

        public MainIptablesBackend(string wanInterface = null) => _wanInterface = wanInterface;

        public BackendKind Kind => BackendKind.Iptables;

        public RouterState Read(RouterSession session)
        {
            CommandResult result = session.Run(RouterScript.Preamble + session.Privileged + "iptables-save -t nat\n");
            if (!result.Succeeded) throw RouterScript.Failure(session, "read the nat table (iptables-save -t nat)", result, Tools);
            return MainIptablesReader.Read(result.Output, _wanInterface);
        }

        public int Write(RouterSession session, IReadOnlyList<BypassForward> desired, RenderContext context, RouterState current,
            IEnumerable<BypassForward> touched, out IReadOnlyList<string> warnings)
        {
            string restore = MainIptablesRenderer.RenderRestore(desired, ((MainState)current).Jumps, context);
            return RouterScript.RunWrite(session, IptablesBackend.Restore(session.Privileged, restore), "iptables-restore",
                RouterScript.MainConntrackTargets(touched, context), Tools, out warnings);
        }

        public void Remove(RouterSession session, RouterState current)
        {
            var state = (MainState)current;
            if (!state.Present) return;
            CommandResult result = RouterLock.Run(session, RouterScript.Wrap(IptablesBackend.Restore(session.Privileged, MainIptablesRenderer.RenderRemoval(state))), "removing the main router's iptables rules");
            if (!result.Succeeded)
                throw RouterScript.Failure(session, "remove the main router's chains (iptables-restore); nothing was removed", result, Tools);
        }
    }
}
