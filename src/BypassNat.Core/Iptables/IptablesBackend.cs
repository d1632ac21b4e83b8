using System.Collections.Generic;
using System.Text;
using BypassNat.Backends;
using BypassNat.Ssh;

namespace BypassNat.Iptables
{
    /// <summary>Reads and writes BypassNat's nat chains with iptables-save / iptables-restore.</summary>
    public sealed class IptablesBackend : IScriptedBackend
    {
        public string Tools => "iptables-save, iptables-restore and conntrack";

        public string LoadTool => "iptables-restore";

        public BackendKind Kind => BackendKind.Iptables;

        public RouterState Read(RouterSession session) => ReadState(session);

        public IptablesState ReadState(RouterSession session) =>
            IptablesReader.Read(RouterScript.RunRead(session, this, "read the nat table (iptables-save -t nat)"));

        public string ReadScript(string privileged) => privileged + "iptables-save -t nat\n";

        public RouterState ParseRead(string output) => IptablesReader.Read(output);

        public string LoadScript(string privileged, IReadOnlyList<BypassForward> desired, RenderContext context, RouterState current) =>
            Restore(privileged, IptablesRenderer.RenderRestore(desired, ((IptablesState)current).Jumps, context));

        public int Write(RouterSession session, IReadOnlyList<BypassForward> desired, RenderContext context, RouterState current,
            IEnumerable<BypassForward> touched, out IReadOnlyList<string> warnings)
        {
            return RouterScript.RunWrite(session, LoadScript(session.Privileged, desired, context, current), LoadTool, touched, Tools, out warnings);
        }

        public string RemoveScript(string privileged, RouterState current) =>
            current.Present ? Restore(privileged, IptablesRenderer.RenderRemoval((IptablesState)current)) : null;

        public void Remove(RouterSession session, RouterState current)
        {
            if (!current.Present) return;
            CommandResult result = RouterLock.Run(session, RouterScript.Wrap(RemoveScript(session.Privileged, current)), "removing the iptables rules");
            if (!result.Succeeded)
                throw RouterScript.Failure(session, "remove BypassNat's chains (iptables-restore); nothing was removed", result, Tools);
        }


        /// <summary>iptables-restore with the transaction in a quoted here-document; exit 3 when the kernel refuses it.</summary>
        internal static string Restore(string privileged, string restore)
        {
            var script = new StringBuilder();
            script.Append(privileged).Append("iptables-restore --noflush --wait 10 <<'BYPASSNAT_RULES' || exit 3\n");
            script.Append(restore);
            script.Append("BYPASSNAT_RULES\n");
            return script.ToString();
        }
    }
}
