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

        /// <summary>Runs a scripted backend's read on its own (without a survey); a refused read is an error naming <paramref name="what"/>.</summary>
        public static string RunRead(RouterSession session, IScriptedBackend backend, string what)
        {
            CommandResult result = session.Run(Preamble + backend.ReadScript(session.Privileged));
            if (!result.Succeeded) throw Failure(session, what, result, backend.Tools);
            return result.Output;
        }

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
        /// <remarks>
        /// One listing of the table and one awk pass find the touched ports that have entries at all;
        /// only those get a <c>conntrack -D</c>. The touched ports travel on awk's standard input
        /// (a here-document ahead of the listing), so no command line grows with the number of
        /// forwards, and neighbouring ports are merged into ranges first.
        /// </remarks>
        public static string ForgetConntrack(string privileged, IEnumerable<BypassForward> touched) =>
            ForgetConntrack(privileged, BypassConntrackTargets(touched));

        /// <summary>The bypass router's touched flows: to the bypass address (and public address) and port.</summary>
        public static IReadOnlyList<string> BypassConntrackTargets(IEnumerable<BypassForward> touched) =>
            ConntrackTargets(touched.SelectMany(forward => forward.Transports.SelectMany(transport =>
            {
                var claims = new List<KeyValuePair<string, PortRange>> { new KeyValuePair<string, PortRange>($"{transport} {forward.BypassAddress}", forward.BypassPort) };
                if (forward.PublicAddress != null) claims.Add(new KeyValuePair<string, PortRange>($"{transport} {forward.PublicAddress}", forward.ExternalPort));
                return claims;
            })));

        /// <summary>
        /// The main router's touched flows: to its WAN addresses as they are now (read at apply time,
        /// never written into a rule) and to the public address, on the external port.
        /// </summary>
        public static IReadOnlyList<string> MainConntrackTargets(IEnumerable<BypassForward> touched, RenderContext context) =>
            ConntrackTargets(touched.SelectMany(forward => forward.Transports.SelectMany(transport =>
                context.WanAddresses.Concat(forward.PublicAddress == null ? new System.Net.IPAddress[0] : new[] { forward.PublicAddress })
                    .Select(address => new KeyValuePair<string, PortRange>($"{transport} {address}", forward.ExternalPort)))));

        /// <param name="targets">"PROTO ADDRESS FIRST LAST" lines, built from parsed addresses and ports only.</param>
        public static string ForgetConntrack(string privileged, IReadOnlyList<string> targets)
        {
            var script = new StringBuilder();
            script.Append("total=0\n");
            if (targets.Count > 0)
            {
                script.Append("if command -v conntrack >/dev/null 2>&1; then\n");
                script.Append("  bypassnat_touched() {\n    cat <<'BYPASSNAT_PORTS'\n");
                foreach (string target in targets) script.Append(target).Append('\n');
                script.Append("BYPASSNAT_PORTS\n  }\n");
                script.Append("  hits=$( { bypassnat_touched; echo end; ").Append(privileged).Append("conntrack -L 2>/dev/null </dev/null; } | awk '\n");
                // Touched ports: small ranges go into a hash, wide ones (a 60,000-port forward) stay ranges.
                script.Append("    !listing { if ($0 == \"end\") { listing = 1; next }\n");
                script.Append("      if ($4 - $3 < 1024) { for (p = $3; p <= $4; p++) port[$1 \" \" $2 \" \" p] = 1 }\n");
                script.Append("      else { n++; key[n] = $1 \" \" $2; first[n] = $3; last[n] = $4 }\n");
                script.Append("      next }\n");
                // The first dst= and dport= of an entry are the original direction's: where the client sent it.
                script.Append("    { dst = \"\"; dport = \"\"\n");
                script.Append("      for (i = 2; i <= NF; i++) {\n");
                script.Append("        if (dst == \"\" && substr($i, 1, 4) == \"dst=\") dst = substr($i, 5)\n");
                script.Append("        else if (substr($i, 1, 6) == \"dport=\") { dport = substr($i, 7); break }\n");
                script.Append("      }\n");
                script.Append("      if (dport == \"\") next\n");
                script.Append("      k = $1 \" \" dst; hit = (k \" \" dport) in port\n");
                script.Append("      for (j = 1; !hit && j <= n; j++) if (key[j] == k && dport + 0 >= first[j] && dport + 0 <= last[j]) hit = 1\n");
                script.Append("      if (hit && !((k \" \" dport) in seen)) { seen[k \" \" dport] = 1; print k \" \" dport } }')\n");
                script.Append("  set -- $hits\n");
                script.Append("  while [ $# -ge 3 ]; do\n");
                script.Append("    n=$(").Append(privileged).Append("conntrack -D -p \"$1\" --orig-dst \"$2\" --orig-port-dst \"$3\" 2>&1 </dev/null | sed -n 's/.* \\([0-9][0-9]*\\) flow entr.*/\\1/p')\n");
                script.Append("    total=$((total + ${n:-0}))\n");
                script.Append("    shift 3\n");
                script.Append("  done\n");
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

        /// <summary>"protocol address first last" per touched range, overlapping and neighbouring ranges merged.</summary>
        /// <param name="claims">"protocol address" with a port range each.</param>
        internal static IReadOnlyList<string> ConntrackTargets(IEnumerable<KeyValuePair<string, PortRange>> claims)
        {
            var ranges = new Dictionary<string, List<PortRange>>(StringComparer.Ordinal);
            foreach (KeyValuePair<string, PortRange> claim in claims)
            {
                if (!ranges.TryGetValue(claim.Key, out List<PortRange> list)) ranges[claim.Key] = list = new List<PortRange>();
                list.Add(claim.Value);
            }

            var targets = new List<string>();
            foreach (KeyValuePair<string, List<PortRange>> entry in ranges.OrderBy(e => e.Key, StringComparer.Ordinal))
            {
                int start = -1, end = -1;
                foreach (PortRange range in entry.Value.OrderBy(r => r.Start))
                {
                    if (start >= 0 && range.Start <= end + 1) { end = Math.Max(end, range.End); continue; }
                    if (start >= 0) targets.Add($"{entry.Key} {start} {end}");
                    start = range.Start;
                    end = range.End;
                }

                targets.Add($"{entry.Key} {start} {end}");
            }

            return targets;
        }


        /// <summary>
        /// Runs a script that changes the rules. A connection lost on the way says what that means: the
        /// kernel takes a ruleset whole, so the router is on one side of the write or the other, and
        /// only a new look can tell which.
        /// </summary>
        public static CommandResult RunChange(RouterSession session, string script, string tool, string expectedGeneration = null, string what = null)
        {
            try
            {
                return RouterLock.Run(session, script, what ?? "writing the rules (" + tool + ")", expectedGeneration);
            }
            catch (BypassNatException lost) when (Interrupted(lost))
            {
                throw new BypassNatException(lost.ErrorId, lost.Kind,
                    lost.Message + $" The connection was lost while the rules were being written ({tool}): the router holds either its previous forwards or the new ones, never a mix. " +
                    "Run the apply again (it converges), or Get-BypassForward to see which.", lost.Target, lost.InnerException);
            }
        }

        /// <summary>
        /// A script cut off before its end was known: the connection dropped, the command timed out,
        /// or the user stopped it (Ctrl-C). The router may have run any prefix of the script.
        /// </summary>
        public static bool Interrupted(BypassNatException e) =>
            e.ErrorId == "BypassNat.ConnectionLost" || e.ErrorId == "BypassNat.CommandTimeout" || e.ErrorId == "BypassNat.Stopped";

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
