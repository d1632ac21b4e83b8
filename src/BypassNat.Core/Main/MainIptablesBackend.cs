using System.Collections.Generic;
using BypassNat.Backends;
using BypassNat.Iptables;
using BypassNat.Ssh;

namespace BypassNat.Main
{
    /// <summary>The main router's half in its own nat chains, written with iptables-restore --noflush.</summary>
    public sealed class MainIptablesBackend : IScriptedBackend
    {
        private readonly string _wanInterface;

        public MainIptablesBackend(string wanInterface = null) => _wanInterface = wanInterface;

        public BackendKind Kind => BackendKind.Iptables;

        public string Tools => "iptables-save, iptables-restore and conntrack";

        public string LoadTool => "iptables-restore";

        public RouterState Read(RouterSession session) => ParseRead(RouterScript.RunRead(session, this, "read the nat table (iptables-save -t nat)"));

        public string ReadScript(string privileged) => privileged + "iptables-save -t nat\n";

        public RouterState ParseRead(string output) => MainIptablesReader.Read(output, _wanInterface);

        public string LoadScript(string privileged, IReadOnlyList<BypassForward> desired, RenderContext context, RouterState current) =>
            IptablesBackend.Restore(privileged, MainIptablesRenderer.RenderRestore(desired, ((MainState)current).Jumps, context));

        public string RemoveScript(string privileged, RouterState current) =>
            current.Present ? IptablesBackend.Restore(privileged, MainIptablesRenderer.RenderRemoval((MainState)current)) : null;

        public int Write(RouterSession session, IReadOnlyList<BypassForward> desired, RenderContext context, RouterState current,
            IEnumerable<BypassForward> touched, out IReadOnlyList<string> warnings) =>
            RouterScript.RunWrite(session, LoadScript(session.Privileged, desired, context, current), LoadTool,
                RouterScript.MainConntrackTargets(touched, context), Tools, out warnings);

        public void Remove(RouterSession session, RouterState current)
        {
            if (!current.Present) return;
            CommandResult result = RouterLock.Run(session, RouterScript.Wrap(RemoveScript(session.Privileged, current)), "removing the main router's iptables rules");
            if (!result.Succeeded)
                throw RouterScript.Failure(session, "remove the main router's chains (iptables-restore); nothing was removed", result, Tools);
        }
    }
}
