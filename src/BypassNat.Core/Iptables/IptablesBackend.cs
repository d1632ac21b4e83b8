using System.Collections.Generic;
using System.Linq;
using System.Text;
using BypassNat.Backends;
using BypassNat.Ssh;

namespace BypassNat.Iptables
{
    /// <summary>Reads and writes BypassNat's nat chains with iptables-save / iptables-restore.</summary>
    public sealed class IptablesBackend : IRouterBackend
    {
        private const string Tools = "iptables-save, iptables-restore and conntrack";

        public BackendKind Kind => BackendKind.Iptables;

        public RouterState Read(RouterSession session) => ReadState(session);

        public IptablesState ReadState(RouterSession session)
        {
            CommandResult result = session.Run(RouterScript.Preamble + session.Privileged + "iptables-save -t nat\n");
            if (!result.Succeeded) throw RouterScript.Failure(session, "read the nat table (iptables-save -t nat)", result, Tools);
            return IptablesReader.Read(result.Output);
        }

        public int Write(RouterSession session, IReadOnlyList<BypassForward> desired, RenderContext context, RouterState current,
            IEnumerable<BypassForward> touched, out IReadOnlyList<string> warnings)
        {
            var jumps = ((IptablesState)current).Jumps;
            string script = RenderScript(session.Privileged, IptablesRenderer.RenderRestore(desired, jumps, context), touched);
            CommandResult result = session.Run(script);
            if (!result.Succeeded)
                throw RouterScript.Failure(session,
                    "apply the rules (iptables-restore); the kernel rejected the whole transaction, so the router keeps its previous forwards", result, Tools);
            warnings = RouterScript.Warnings(result);
            return RouterScript.ConntrackDeleted(result);
        }

        public void Remove(RouterSession session, RouterState current)
        {
            var state = (IptablesState)current;
            if (!state.Present) return;
            string restore = IptablesRenderer.RenderRemoval(state);
            CommandResult result = session.Run(RouterScript.Wrap(Restore(session.Privileged, restore)));
            if (!result.Succeeded)
                throw RouterScript.Failure(session, "remove BypassNat's chains (iptables-restore); nothing was removed", result, Tools);
        }


        /// <summary>
        /// The whole write as one script for <c>sh -s</c>: the rules travel in a quoted
        /// here-document, so nothing in them is ever expanded by the shell.
        /// </summary>
        internal static string RenderScript(string privileged, string restore, IEnumerable<BypassForward> touched) =>
            RouterScript.Wrap(Restore(privileged, restore) + RouterScript.ForgetConntrack(privileged, touched));

        private static string Restore(string privileged, string restore)
        {
            var script = new StringBuilder();
            script.Append(privileged).Append("iptables-restore --noflush --wait 10 <<'BYPASSNAT_RULES' || exit 3\n");
            script.Append(restore);
            script.Append("BYPASSNAT_RULES\n");
            return script.ToString();
        }
    }
}
