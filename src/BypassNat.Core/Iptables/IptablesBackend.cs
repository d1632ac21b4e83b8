using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using System.Text.RegularExpressions;
using BypassNat.Ssh;

namespace BypassNat.Iptables
{
    /// <summary>Reads and writes BypassNat's nat chains on a router with iptables-save / iptables-restore.</summary>
    public sealed class IptablesBackend
    {
        public const string Name = "Iptables";

        // A fixed preamble: non-root logins often lack the sbin directories in PATH.
        private const string Preamble = "PATH=\"$PATH:/usr/sbin:/sbin:/usr/local/sbin\"\n";

        public IptablesState Read(RouterSession session)
        {
            CommandResult result = session.Run(Preamble + session.Privileged + "iptables-save -t nat\n");
            if (!result.Succeeded) throw Failure(session, "read the nat table (iptables-save -t nat)", result);
            return IptablesReader.Read(result.Output);
        }

        /// <summary>
        /// Replaces BypassNat's chains in one iptables-restore transaction, then deletes the
        /// connection-tracking entries of the touched ports. Returns how many entries went.
        /// </summary>
        public int Write(RouterSession session, IEnumerable<BypassForward> desired, IptablesJumpRepair jumps, IEnumerable<BypassForward> touched,
            out IReadOnlyList<string> warnings)
        {
            string script = RenderScript(session.Privileged, IptablesRenderer.RenderRestore(desired, jumps), touched);
            CommandResult result = session.Run(script);
            if (result.ExitCode == 3 || !result.Succeeded)
                throw Failure(session, "apply the rules (iptables-restore); the kernel rejected the whole transaction, so the router keeps its previous forwards", result);
            warnings = Warnings(result).ToList();
            Match deleted = Regex.Match(result.Output, @"conntrack-deleted=(\d+)");
            return deleted.Success ? int.Parse(deleted.Groups[1].Value, CultureInfo.InvariantCulture) : 0;
        }

        /// <summary>
        /// The whole write as one script for <c>sh -s</c>. It is one brace group so the shell has read
        /// all of it before the first command runs, and the rules travel in a quoted here-document,
        /// so nothing in them is ever expanded by the shell.
        /// </summary>
        internal static string RenderScript(string privileged, string restore, IEnumerable<BypassForward> touched)
        {
            var script = new StringBuilder();
            script.Append("{\n").Append(Preamble);
            script.Append(privileged).Append("iptables-restore --noflush --wait 10 <<'BYPASSNAT_RULES' || exit 3\n");
            script.Append(restore);
            script.Append("BYPASSNAT_RULES\n");
            AppendConntrackFlush(script, privileged, touched);
            script.Append("}\n");
            return script.ToString();
        }

        // A UDP flow (or a retried TCP SYN) that reached the router before the rule existed keeps its
        // old conntrack entry and never sees the new DNAT until that entry expires. Delete exactly the
        // entries of the ports this change touched, never the whole table.
        private static void AppendConntrackFlush(StringBuilder script, string privileged, IEnumerable<BypassForward> touched)
        {
            var targets = new SortedSet<string>(StringComparer.Ordinal);
            foreach (BypassForward forward in touched)
                foreach (string transport in forward.Transports)
                    targets.Add($"{transport} {forward.BypassAddress} {forward.BypassPort.Start} {forward.BypassPort.End}");
            script.Append("total=0\n");
            if (targets.Count > 0)
            {
                script.Append("if command -v conntrack >/dev/null 2>&1; then\n");
                script.Append("  forget() {\n");
                script.Append("    port=$3\n");
                script.Append("    while [ \"$port\" -le \"$4\" ]; do\n");
                script.Append("      n=$(").Append(privileged).Append("conntrack -D -p \"$1\" --orig-dst \"$2\" --orig-port-dst \"$port\" 2>&1 </dev/null | sed -n 's/.* \\([0-9][0-9]*\\) flow entr.*/\\1/p')\n");
                script.Append("      total=$((total + ${n:-0}))\n");
                script.Append("      port=$((port + 1))\n");
                script.Append("    done\n");
                script.Append("  }\n");
                foreach (string target in targets) script.Append("  forget ").Append(target).Append('\n');
                script.Append("else\n");
                script.Append("  echo 'bypassnat-warning: conntrack is not installed on the router, so flows that started before this change keep their old path until they expire' >&2\n");
                script.Append("fi\n");
            }

            script.Append("echo conntrack-deleted=$total\n");
        }

        internal static BypassNatException Failure(RouterSession session, string what, CommandResult result)
        {
            string detail = result.Error.Trim();
            if (detail.Length == 0) detail = result.Output.Trim();
            if (detail.Length > 1500) detail = detail.Substring(0, 1500) + " ...";
            if (Regex.IsMatch(detail, "sudo: .*(password|not allowed|may not run|a terminal)", RegexOptions.IgnoreCase))
                return new BypassNatException("BypassNat.SudoRefused", FailureKind.PermissionDenied,
                    $"The router {session.Settings.Endpoint} refused sudo -n for user '{session.Settings.UserName}' while trying to {what}: {detail} " +
                    "Allow that user iptables-save, iptables-restore and conntrack without a password in sudoers, or log in as root.",
                    session.Settings.Endpoint);
            if (!session.Settings.UseSudo && Regex.IsMatch(detail, "Permission denied|must be root|not permitted", RegexOptions.IgnoreCase))
                return new BypassNatException("BypassNat.NotRoot", FailureKind.PermissionDenied,
                    $"The router {session.Settings.Endpoint} did not let user '{session.Settings.UserName}' {what}: {detail} Log in as root, or add -Sudo.",
                    session.Settings.Endpoint);
            if (Regex.IsMatch(detail, "(not found|No such file)", RegexOptions.IgnoreCase) && result.ExitCode == 127)
                return new BypassNatException("BypassNat.IptablesNotFound", FailureKind.NotInstalled,
                    $"The router {session.Settings.Endpoint} has no iptables tools: {detail}", session.Settings.Endpoint);
            return new BypassNatException("BypassNat.RouterCommandFailed", FailureKind.InvalidResult,
                $"The router {session.Settings.Endpoint} could not {what} (exit code {result.ExitCode}): {detail}", session.Settings.Endpoint);
        }

        /// <summary>Lines the router script printed as warnings for the user.</summary>
        public static IEnumerable<string> Warnings(CommandResult result) =>
            result.Error.Split('\n').Where(l => l.StartsWith("bypassnat-warning: ", StringComparison.Ordinal)).Select(l => l.Substring(19).Trim());
    }
}
