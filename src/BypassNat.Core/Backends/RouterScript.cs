using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using System.Text.RegularExpressions;
using BypassNat.Ssh;

namespace BypassNat.Backends
{
    /// <summary>
    /// Pieces every router script shares: the PATH preamble, the conntrack clean-up, reading the
    /// script's own report lines, and turning a failed script into an error the user can act on.
    /// </summary>
    public static class RouterScript
    {
        // Non-root logins often lack the sbin directories in PATH.
        public const string Preamble = "PATH=\"$PATH:/usr/sbin:/sbin:/usr/local/sbin\"\n";

        public const string WarningPrefix = "bypassnat-warning: ";

        /// <summary>
        /// Wraps a body in one brace group, so the shell has read all of it before the first command
        /// runs (a command reading stdin cannot eat the rest of the script).
        /// </summary>
        public static string Wrap(string body) => "{\n" + Preamble + body + "}\n";

        /// <summary>
        /// A UDP flow (or a retried TCP SYN) that reached the router before a rule existed keeps its
        /// old conntrack entry and never sees the new DNAT until that entry expires. This deletes
        /// exactly the entries of the ports touched, never the whole table, and prints how many went.
        /// </summary>
        public static string ForgetConntrack(string privileged, IEnumerable<BypassForward> touched)
        {
            var targets = new SortedSet<string>(StringComparer.Ordinal);
            foreach (BypassForward forward in touched)
                foreach (string transport in forward.Transports)
                {
                    targets.Add($"{transport} {forward.BypassAddress} {forward.BypassPort.Start} {forward.BypassPort.End}");
                    if (forward.PublicAddress != null)
                        targets.Add($"{transport} {forward.PublicAddress} {forward.ExternalPort.Start} {forward.ExternalPort.End}");
                }

            var script = new StringBuilder();
            script.Append("total=0\n");
            if (targets.Count > 0)
            {
                script.Append("if command -v conntrack >/dev/null 2>&1; then\n");
                // List the entries to the address once and delete only the ports in the range that have
                // any, so a 10,000-port range costs one listing, not 10,000 deletes.
                script.Append("  forget() {\n");
                script.Append("    for port in $(").Append(privileged).Append("conntrack -L -p \"$1\" --orig-dst \"$2\" 2>/dev/null </dev/null |\n");
                script.Append("        awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^dport=/) { sub(/^dport=/, \"\", $i); print $i; break } }' | sort -un); do\n");
                script.Append("      [ \"$port\" -ge \"$3\" ] && [ \"$port\" -le \"$4\" ] || continue\n");
                script.Append("      n=$(").Append(privileged).Append("conntrack -D -p \"$1\" --orig-dst \"$2\" --orig-port-dst \"$port\" 2>&1 </dev/null | sed -n 's/.* \\([0-9][0-9]*\\) flow entr.*/\\1/p')\n");
                script.Append("      total=$((total + ${n:-0}))\n");
                script.Append("    done\n");
                script.Append("  }\n");
                foreach (string target in targets) script.Append("  forget ").Append(target).Append('\n');
                script.Append("else\n");
                // The package's name differs: OpenWrt's opkg calls it conntrack, its apk (24.10 and later) conntrack-tools.
                script.Append("  install='install the conntrack package'\n");
                script.Append("  if [ -f /etc/openwrt_release ]; then\n");
                script.Append("    if command -v apk >/dev/null 2>&1; then install='apk add conntrack-tools'; else install='opkg install conntrack'; fi\n");
                script.Append("  fi\n");
                script.Append("  echo \"").Append(WarningPrefix).Append("conntrack is not installed on the router ($install), so flows that started before this change keep their old path until they expire\" >&2\n");
                script.Append("fi\n");
            }

            script.Append("echo conntrack-deleted=$total\n");
            return script.ToString();
        }

        /// <summary>
        /// The router's connected IPv4 networks (its LANs), read with <c>ip -4 -o addr show</c>, which
        /// needs no privileges. Loopback does not count.
        /// </summary>
        public static RenderContext DetectLans(RouterSession session)
        {
            CommandResult result = session.Run(Preamble + "ip -4 -o addr show\n");
            if (!result.Succeeded) throw Failure(session, "list its addresses (ip -4 -o addr show)", result, "ip (iproute2)");
            var prefixes = new List<Ipv4Prefix>();
            foreach (Match m in Regex.Matches(result.Output, @"\binet (\d+\.\d+\.\d+\.\d+/\d+)"))
                if (Ipv4Prefix.TryParse(m.Groups[1].Value, out Ipv4Prefix prefix) && !prefix.Network.ToString().StartsWith("127.", StringComparison.Ordinal))
                    prefixes.Add(prefix);
            return new RenderContext(prefixes);
        }

        /// <summary>
        /// Runs a write: the kernel transaction (<paramref name="load"/>, which exits 3 when refused),
        /// then the conntrack clean-up of the touched ports. Returns how many entries went.
        /// </summary>
        public static int RunWrite(RouterSession session, string load, string tool, IEnumerable<BypassForward> touched,
            string tools, out IReadOnlyList<string> warnings)
        {
            CommandResult result = session.Run(WriteScript(session.Privileged, load, touched));
            if (!result.Succeeded)
                throw Failure(session,
                    $"apply the rules ({tool}); the kernel rejected the whole transaction, so the router keeps its previous forwards", result, tools);
            warnings = Warnings(result);
            return ConntrackDeleted(result);
        }

        /// <summary>The write as one script for <c>sh -s</c>: the rules travel in a quoted here-document inside <paramref name="load"/>.</summary>
        internal static string WriteScript(string privileged, string load, IEnumerable<BypassForward> touched) =>
            Wrap(load + ForgetConntrack(privileged, touched));

        public static int ConntrackDeleted(CommandResult result)
        {
            Match deleted = Regex.Match(result.Output, @"conntrack-deleted=(\d+)");
            return deleted.Success ? int.Parse(deleted.Groups[1].Value, CultureInfo.InvariantCulture) : 0;
        }

        /// <summary>Lines the router script printed as warnings for the user.</summary>
        public static IReadOnlyList<string> Warnings(CommandResult result) =>
            result.Error.Split('\n').Where(l => l.StartsWith(WarningPrefix, StringComparison.Ordinal))
                .Select(l => l.Substring(WarningPrefix.Length).Trim()).ToList();

        /// <summary>A failed router script as an error that says what was tried and what to do.</summary>
        public static BypassNatException Failure(RouterSession session, string what, CommandResult result, string tools)
        {
            string detail = result.Error.Trim();
            if (detail.Length == 0) detail = result.Output.Trim();
            if (detail.Length > 1500) detail = detail.Substring(0, 1500) + " ...";
            string endpoint = session.Settings.Endpoint;
            if (Regex.IsMatch(detail, "sudo: .*(password|not allowed|may not run|a terminal)", RegexOptions.IgnoreCase))
                return new BypassNatException("BypassNat.SudoRefused", FailureKind.PermissionDenied,
                    $"The router {endpoint} refused sudo -n for user '{session.Settings.UserName}' while trying to {what}: {detail} " +
                    $"Allow that user {tools} without a password in sudoers, or log in as root.", endpoint);
            if (!session.Settings.UseSudo && Regex.IsMatch(detail, "Permission denied|must be root|not permitted", RegexOptions.IgnoreCase))
                return new BypassNatException("BypassNat.NotRoot", FailureKind.PermissionDenied,
                    $"The router {endpoint} did not let user '{session.Settings.UserName}' {what}: {detail} Log in as root, or add -Sudo.", endpoint);
            if (result.ExitCode == 127 || Regex.IsMatch(detail, ": (command )?not found", RegexOptions.IgnoreCase))
                return new BypassNatException("BypassNat.ToolNotFound", FailureKind.NotInstalled,
                    $"The router {endpoint} lacks a tool needed to {what} ({tools}): {detail}", endpoint);
            return new BypassNatException("BypassNat.RouterCommandFailed", FailureKind.InvalidResult,
                $"The router {endpoint} could not {what} (exit code {result.ExitCode}): {detail}", endpoint);
        }
    }
}
