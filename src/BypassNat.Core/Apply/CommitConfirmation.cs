using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using System.Text.RegularExpressions;
using System.Threading;
using BypassNat.Backends;
using BypassNat.Ssh;
using BypassNat.Registry;
using BypassNat.Persistence;

namespace BypassNat.Apply
{
    /// <summary>
    /// Commit-confirmed apply (<c>-ConfirmTimeout</c>), like Juniper's <c>commit confirmed</c> and
    /// <c>iptables-apply</c>: before the change the router keeps a rollback of this hop's previous
    /// state (its live rules and -Persist's saved set) and starts a watchdog of its own, detached from
    /// the SSH session, that runs the rollback after the timeout unless a NEW SSH connection confirms
    /// that the router still answers.
    /// </summary>
    /// <remarks>
    /// The watchdog lives on the router because the failure it guards against is the workstation
    /// losing the router: nothing the workstation runs can undo a change once it cannot reach it.
    /// The rollback and the confirmation both run under the router-side lock (<see cref="RouterLock"/>)
    /// and decide by the token file: a confirmation removes it, a rollback runs only while it holds
    /// this apply's token, so the router ends on the new set or on the previous one, never a mix.
    /// </remarks>
    public sealed class CommitConfirmation
    {
        public const int MinimumSeconds = 5;
        public const int MaximumSeconds = 3600;

        /// <summary>The exit code of a start refused because an earlier apply's watchdog is still waiting.</summary>
        public const int PendingExitCode = 77;

        private const string PendingPrefix = "bypassnat-confirm-pending: ";

        private readonly RouterHop _hop;
        private readonly string _privileged;

        /// <param name="privileged">The privilege prefix: a sudo login may need it once, to make the shared state directory, and to remove <see cref="PendingConfirmation.File"/>.</param>
        /// <param name="previous">What the router held before (for the messages).</param>
        /// <param name="keepAcrossReboot">
        /// A shell condition under which -Persist's saved set is part of the rollback, so a copy of it is
        /// kept beside the saved set (<see cref="PendingConfirmation.File"/>): "true" for a first -Persist, a test
        /// for restore.sh where one may be installed; null when the apply does not touch a saved set.
        /// </param>
        public CommitConfirmation(RouterHop hop, int timeoutSeconds, string token = null, string privileged = "", IReadOnlyList<BypassForward> previous = null,
            string keepAcrossReboot = null)
            : this(hop, timeoutSeconds, token, MinimumSeconds, privileged, previous, keepAcrossReboot)
        {
        }

        // Unit tests run the watchdog with a shorter timeout than a user may give.
        internal CommitConfirmation(RouterHop hop, int timeoutSeconds, string token, int minimum, string privileged = "", IReadOnlyList<BypassForward> previous = null,
            string keepAcrossReboot = null)
        {
            if (timeoutSeconds < minimum || timeoutSeconds > MaximumSeconds)
                throw new BypassNatException("BypassNat.InvalidConfirmTimeout", FailureKind.InvalidData,
                    $"-ConfirmTimeout {timeoutSeconds} is out of range: give {MinimumSeconds} to {MaximumSeconds} seconds. Nothing was changed.", timeoutSeconds);
            _hop = hop;
            TimeoutSeconds = timeoutSeconds;
            Token = token ?? Guid.NewGuid().ToString("N");
            _privileged = privileged ?? string.Empty;
            Previous = previous ?? new BypassForward[0];
            KeepAcrossReboot = keepAcrossReboot;
        }

        public int TimeoutSeconds { get; }

        /// <summary>This apply's token: the watchdog rolls back, and the confirmation cancels, only while the router holds it.</summary>
        public string Token { get; }

        /// <summary>How many forwards the router held before (for the messages).</summary>
        public IReadOnlyList<BypassForward> Previous { get; }

        /// <summary>The shell condition under which the rollback is also kept across a reboot; null: not kept.</summary>
        public string KeepAcrossReboot { get; }

        // The path prefix of a hop's files (HOP.token, .pid, .deadline, .rollback.sh, .watchdog.sh,
        // .result, .log), beside the lock: tmpfs, so a reboot forgets a waiting watchdog.
        private string StateDirectory => PendingConfirmation.StatePrefix(_hop, "bypassnat_lockdir");

        // The files of a waiting watchdog (DIR.result and DIR.log, its outcome, stay for the confirmation to read).
        private const string RemoveState = "rm -f \"$d.token\" \"$d.pid\" \"$d.deadline\" \"$d.rollback.sh\" \"$d.watchdog.sh\"";

        /// <summary>
        /// Stops a write (exit <see cref="PendingExitCode"/>) while an earlier apply's watchdog on this
        /// hop waits for its confirmation: its rollback would undo this write too, so every writer of
        /// the hop, with -ConfirmTimeout or without, waits until it is confirmed or rolled back.
        /// </summary>
        public static string PendingCheckScript(RouterHop hop)
        {
            var s = new StringBuilder();
            s.Append(RouterLock.DirectoryScript);
            s.Append("d=").Append(PendingConfirmation.StatePrefix(hop, "bypassnat_lockdir")).Append('\n');
            // /proc, not kill -0: a sudo login cannot signal root's watchdog, but can see it.
            s.Append("if [ -f \"$d.token\" ] && [ -f \"$d.pid\" ] && [ -d \"/proc/$(cat \"$d.pid\")\" ]; then\n");
            s.Append("  printf '").Append(PendingPrefix).Append("%s\\n' \"$(cat \"$d.deadline\" 2>/dev/null)\" >&2\n");
            s.Append("  exit ").Append(PendingExitCode.ToString(CultureInfo.InvariantCulture)).Append('\n');
            s.Append("fi\n");
            return s.ToString();
        }

        /// <summary>Throws <c>BypassNat.ConfirmPending</c> (nothing was changed) when <see cref="PendingCheckScript"/> stopped the write.</summary>
        public static void ThrowIfPending(RouterSession session, RouterHop hop, CommandResult section)
        {
            if (section.ExitCode != PendingExitCode || !section.Error.Contains(PendingPrefix)) return;
            string endpoint = session.Settings.Endpoint;
            string at = Regex.Match(section.Error, Regex.Escape(PendingPrefix) + "(\\d+)").Groups[1].Value;
            string when = long.TryParse(at, NumberStyles.Integer, CultureInfo.InvariantCulture, out long epoch)
                ? " (it restores the forwards from before that apply at " + FormatUtc(DateTimeOffset.FromUnixTimeSeconds(epoch).UtcDateTime) + ")" : string.Empty;
            throw new BypassNatException("BypassNat.ConfirmPending", FailureKind.InvalidOperation,
                $"An earlier apply with -ConfirmTimeout on {endpoint} ({hop.Role} hop) is still waiting for its confirmation{when}, and its rollback would undo this change too. " +
                "Nothing was changed. Run again once it is confirmed or rolled back.", endpoint);
        }

        /// <summary>
        /// The section that saves the rollback and starts the watchdog, for the write script ahead of
        /// the save and the load. It fails (and so stops the write before anything changes) when the
        /// watchdog does not start, or when an earlier apply's watchdog is still waiting.
        /// </summary>
        /// <param name="rollback">What the watchdog runs, from <see cref="RollbackScript"/>.</param>
        public string StartScript(string rollback)
        {
            string privileged = _privileged, keepAcrossReboot = KeepAcrossReboot;
            string timeout = TimeoutSeconds.ToString(CultureInfo.InvariantCulture);
            var s = new StringBuilder();
            s.Append(PendingCheckScript(_hop));
            // One directory for every hop's files, writable by whoever writes next (root, or a sudo login
            // after root made /run/bypassnat): made once, never removed.
            s.Append("c=\"$bypassnat_lockdir/confirm\"\n");
            s.Append("[ -d \"$c\" ] || { mkdir -p \"$bypassnat_lockdir\" && mkdir -m 0777 \"$c\"; } 2>/dev/null || ").Append(privileged).Append("mkdir -p -m 0777 \"$c\" || exit 1\n");
            s.Append(RemoveState).Append(" \"$d.result\" \"$d.log\" 2>/dev/null\n");
            s.Append("printf '%s\\n' '").Append(Token).Append("' > \"$d.token\" || { echo \"the login cannot write the watchdog's files in $c\" >&2; exit 1; }\n");
            s.Append("cat > \"$d.rollback.sh\" <<'BYPASSNAT_ROLLBACK'\n").Append(rollback);
            if (!rollback.EndsWith("\n", StringComparison.Ordinal)) s.Append('\n');
            s.Append("BYPASSNAT_ROLLBACK\n");
            s.Append("cat > \"$d.watchdog.sh\" <<'BYPASSNAT_WATCHDOG'\n").Append(WatchdogScript()).Append("BYPASSNAT_WATCHDOG\n");
            if (keepAcrossReboot != null)
            {
                string pending = PendingConfirmation.File(_hop);
                s.Append("if ").Append(keepAcrossReboot).Append("; then\n");
                s.Append("  { ").Append(privileged).Append("mkdir -p ").Append(_hop.Directory).Append(" && { printf '%s%s\\n' '").Append(PendingConfirmation.TokenLine).Append("' '").Append(Token)
                    .Append("'; cat \"$d.rollback.sh\"; } | ").Append(privileged).Append("tee ").Append(pending).Append(" >/dev/null; } ||\n");
                s.Append("    { echo \"the rollback could not be kept in ").Append(_hop.Directory).Append(" for a reboot\" >&2; ").Append(RemoveState).Append("; exit 1; }\n");
                s.Append("fi\n");
            }

            s.Append("now=$(date +%s)\necho $((now + ").Append(timeout).Append(")) > \"$d.deadline\"\n");
            // Detached: its own session where setsid exists, no terminal, none of this script's
            // descriptors (9 is the write's lock, 3 the section's output), so it outlives the SSH session
            // and never holds the lock or the output open.
            s.Append("if command -v setsid >/dev/null 2>&1; then\n");
            s.Append("  setsid sh \"$d.watchdog.sh\" \"$d\" </dev/null >/dev/null 2>&1 3>&- 9>&- &\n");
            s.Append("else\n");
            s.Append("  sh \"$d.watchdog.sh\" \"$d\" </dev/null >/dev/null 2>&1 3>&- 9>&- &\n");
            s.Append("fi\n");
            s.Append("i=0\n");
            s.Append("until [ -s \"$d.pid\" ]; do\n");
            s.Append("  if [ \"$i\" -ge 50 ]; then echo \"the watchdog did not start (no $d.pid after 5 s)\" >&2; " + RemoveState + "; exit 1; fi\n");
            s.Append("  sleep 0.1 2>/dev/null || sleep 1\n  i=$((i + 1))\n");
            s.Append("done\n");
            s.Append("echo confirm-now=$now\necho confirm-deadline=$(cat \"$d.deadline\")\n");
            return s.ToString();
        }

        /// <summary>
        /// The watchdog, run detached with its files' path prefix as $1 (/run/bypassnat/confirm/HOP):
        /// sleeps out the timeout, then takes the lock and rolls back if HOP.token still holds this
        /// apply's token, leaving the outcome in HOP.result (token, exit status, time) and the
        /// rollback's output in HOP.log.
        /// </summary>
        internal string WatchdogScript()
        {
            var s = new StringBuilder();
            s.Append("#!/bin/sh\n");
            s.Append("# Written by BypassNat (-ConfirmTimeout): restores this hop's previous forwards unless the apply is confirmed in time.\n");
            s.Append(RouterScript.Preamble);
            s.Append("d=\"$1\"\ntoken=$(cat \"$d.token\")\n");
            // The SSH session ending must not end the wait; a confirmation ends it with TERM.
            s.Append("trap '' HUP INT\n");
            s.Append("trap 'kill \"$sleeper\" 2>/dev/null; exit 0' TERM\n");
            s.Append("sleep ").Append(TimeoutSeconds.ToString(CultureInfo.InvariantCulture)).Append(" &\nsleeper=$!\n");
            s.Append("echo $$ > \"$d.pid\"\n");
            s.Append("wait \"$sleeper\"\n");
            s.Append(RouterLock.DirectoryScript);
            // No bounded wait here: every writer is bounded, and giving up would leave the unconfirmed change.
            s.Append("if command -v flock >/dev/null 2>&1 && [ -r \"$bypassnat_lockdir/lock\" ]; then exec 9<\"$bypassnat_lockdir/lock\"; flock 9; fi\n");
            s.Append("[ \"$(cat \"$d.token\" 2>/dev/null)\" = \"$token\" ] || exit 0\n");
            s.Append("trap '' TERM\n");
            // A rollback is a writer: a write planned before it must stop (RouterLock's generation).
            s.Append("(umask 0; printf 'rollback-%s-%s\\n' \"$$\" \"$(date +%s)\" > \"$bypassnat_lockdir/generation\"; ");
            s.Append("echo \"pid $$: BypassNat's -ConfirmTimeout rollback\" > \"$bypassnat_lockdir/holder\") 2>/dev/null\n");
            s.Append("sh \"$d.rollback.sh\" > \"$d.log\" 2>&1\nstatus=$?\n");
            s.Append("printf '%s %s %s\\n' \"$token\" \"$status\" \"$(date +%s)\" > \"$d.result\"\n");
            s.Append(RemoveState).Append('\n');
            return s.ToString();
        }

        /// <summary>
        /// What the watchdog runs: each backend's previous rules put back (the whole table or the
        /// chains, in one transaction each; removed where there were none), then -Persist's saved set.
        /// Each step runs in a subshell of its own, so one that fails does not keep the others from running.
        /// </summary>
        /// <param name="live">Each backend this apply touches, with what it held before.</param>
        /// <param name="persist">The script that puts the saved set back (or removes a first -Persist); null when the apply does not touch it.</param>
        /// <param name="ipv6">The script that puts the hop's IPv6 rules back (<see cref="Backends.Iptables.Ipv6Pinholes.RollbackScript"/>); null when the apply does not touch them.</param>
        public static string RollbackScript(RouterHop hop, string p, IEnumerable<KeyValuePair<IScriptedBackend, RouterState>> live, RenderContext context, string persist, string ipv6 = null)
        {
            var s = new StringBuilder();
            s.Append(RouterScript.Preamble).Append("status=0\n");
            foreach (KeyValuePair<IScriptedBackend, RouterState> backend in live)
            {
                s.Append("(\n").Append(backend.Key.RollbackScript(p, backend.Value, context));
                s.Append($") || {{ status=1; echo 'could not put back the {backend.Key.Kind} rules' >&2; }}\n");
            }

            if (ipv6 != null) s.Append("(\n").Append(ipv6).Append(") || { status=1; echo 'could not put back the IPv6 rules' >&2; }\n");

            if (persist != null)
            {
                s.Append("(\n").Append(persist);
                if (!persist.EndsWith("\n", StringComparison.Ordinal)) s.Append('\n');
                s.Append(") || { status=1; echo 'could not put back the saved set (-Persist)' >&2; }\n");
                // Done: nothing is pending across a reboot any more.
                s.Append(p).Append("rm -f ").Append(PendingConfirmation.File(hop)).Append('\n');
            }

            s.Append("exit $status\n");
            return s.ToString();
        }

        /// <summary>
        /// Reads what the start section printed: when the router rolls back unless confirmed (the
        /// workstation's clock). Throws when the watchdog did not start (nothing was changed then).
        /// </summary>
        public DateTime Started(RouterSession session, CommandResult section)
        {
            string endpoint = session.Settings.Endpoint;
            ThrowIfPending(session, _hop, section);

            if (!section.Succeeded)
            {
                // A sudo login refused the one mkdir is a SudoRefused like any other.
                BypassNatException failure = RouterScript.Failure(session, "start the -ConfirmTimeout watchdog, so the change was not made: nothing was changed", section, "mkdir");
                if (failure.ErrorId == "BypassNat.SudoRefused") throw failure;
            }

            if (!section.Succeeded)
                throw new BypassNatException("BypassNat.ConfirmNotStarted", FailureKind.InvalidResult,
                    $"The router {endpoint} could not start the -ConfirmTimeout watchdog, so the change was not made: nothing was changed. " +
                    $"The router said: {Detail(section)}", endpoint);
            Match now = Regex.Match(section.Output, "confirm-now=(\\d+)");
            Match deadline = Regex.Match(section.Output, "confirm-deadline=(\\d+)");
            int seconds = now.Success && deadline.Success
                ? (int)(long.Parse(deadline.Groups[1].Value, CultureInfo.InvariantCulture) - long.Parse(now.Groups[1].Value, CultureInfo.InvariantCulture))
                : TimeoutSeconds;
            // The router's clock may be wrong; the time left is not.
            return DateTime.UtcNow.AddSeconds(seconds);
        }

        /// <summary>Cancels the watchdog and removes the saved rollback, if the router still holds this apply's token; prints what it found (a sudo login cannot signal root's watchdog: that one finds the token gone and exits when it wakes).</summary>
        public string ConfirmScript()
        {
            var s = new StringBuilder();
            s.Append(RouterLock.DirectoryScript);
            s.Append("d=").Append(StateDirectory).Append('\n');
            s.Append("if [ \"$(cat \"$d.token\" 2>/dev/null)\" = '").Append(Token).Append("' ]; then\n");
            s.Append("  pid=$(cat \"$d.pid\" 2>/dev/null)\n");
            s.Append("  [ -z \"$pid\" ] || kill \"$pid\" 2>/dev/null\n");
            s.Append("  ").Append(RemoveState).Append('\n');
            // Left behind, the next restore.sh would take this confirmed change for an unconfirmed one.
            if (KeepAcrossReboot != null)
                s.Append("  ").Append(_privileged).Append("rm -f ").Append(PendingConfirmation.File(_hop))
                    .Append(" || { echo 'could not remove ").Append(PendingConfirmation.File(_hop)).Append(": remove it, or the next restore undoes this change' >&2; exit 1; }\n");
            s.Append("  echo confirm=confirmed\n");
            s.Append("else\n");
            s.Append(OutcomeLines("  "));
            s.Append("fi\n");
            return s.ToString();
        }

        /// <summary>What happened to this apply's watchdog, without changing anything.</summary>
        public string OutcomeScript() =>
            RouterLock.DirectoryScript + "d=" + StateDirectory + "\n" +
            "if [ \"$(cat \"$d.token\" 2>/dev/null)\" = '" + Token + "' ]; then echo confirm=waiting; else\n" + OutcomeLines("  ") + "fi\n";

        private string OutcomeLines(string indent) =>
            indent + "set -- $(cat \"$d.result\" 2>/dev/null)\n" +
            indent + "if [ \"$1\" = '" + Token + "' ]; then echo \"confirm=rolled-back $2\"; sed 's/^/confirm-log: /' \"$d.log\" 2>/dev/null; else echo confirm=gone; fi\n";

        /// <summary>
        /// Proves the router still answers a NEW SSH connection and confirms through it. When that
        /// fails, waits for the router's own rollback and throws an error that says what the router
        /// holds (read back through the old connection while it lives), or when it will restore by itself.
        /// </summary>
        /// <param name="describe">Reads back through the old connection what the router holds now, as a sentence.</param>
        /// <param name="deadline">When the router rolls back, as <see cref="Started"/> returned it.</param>
        public void Confirm(RouterSession old, Func<SshSettings, RouterSession> open, Func<string> describe, Action<string> verbose, DateTime deadline, CancellationToken cancel = default)
        {
            string endpoint = old.Settings.Endpoint;
            string why;
            CommandResult result = null;
            try
            {
                verbose?.Invoke($"-ConfirmTimeout: opening a new SSH connection to {endpoint} to prove it still answers.");
                using (RouterSession fresh = open(old.Settings))
                {
                    fresh.LockTimeoutSeconds = old.LockTimeoutSeconds;
                    result = RouterLock.Run(fresh, RouterScript.Wrap(ConfirmScript()), "confirming an apply (-ConfirmTimeout)");
                }
            }
            catch (Exception e) when (!(e is OperationCanceledException))
            {
                // Whatever failed, the router decides alone now: the error must say what it did.
                why = $"a new SSH connection could not confirm it ({(e is BypassNatException known ? known.ErrorId : e.GetType().Name)})";
                throw AfterDeadline(old, why, describe, verbose, deadline, cancel);
            }

            string outcome = Regex.Match(result.Output, "confirm=([a-z-]+)").Groups[1].Value;
            if (outcome == "confirmed")
            {
                verbose?.Invoke($"-ConfirmTimeout: confirmed through a new connection; the watchdog on {endpoint} is stopped and the saved rollback removed.");
                return;
            }

            if (outcome == "rolled-back") throw RolledBack(old, result, "the confirmation arrived after the timeout", describe);
            if (outcome == "gone") throw Gone(endpoint, "could not be confirmed", describe);
            why = result.Succeeded ? "the router no longer held this apply's watchdog (was it restarted, or /run cleared?)"
                : "the confirmation failed on the router: " + Detail(result);
            throw AfterDeadline(old, why, describe, verbose, deadline, cancel);
        }

        /// <summary>
        /// The confirmation did not land: wait until the router's watchdog has run, then read back
        /// through the old connection what it holds; if that is gone too, say when the router restores by itself.
        /// </summary>
        private BypassNatException AfterDeadline(RouterSession old, string why, Func<string> describe, Action<string> verbose, DateTime deadline, CancellationToken cancel)
        {
            string endpoint = old.Settings.Endpoint;
            string restores = $"The router restores its previous {Count(Previous)} by itself at {FormatUtc(deadline)} (its watchdog was started before the change)";
            verbose?.Invoke($"-ConfirmTimeout: {why}; waiting until {FormatUtc(deadline)} for the router's own rollback.");
            // The rollback waits for the lock, and every writer is bounded by its lock timeout.
            DateTime giveUp = deadline.AddSeconds(old.LockTimeoutSeconds + 15);
            Wait(deadline.AddSeconds(1), cancel);
            while (true)
            {
                CommandResult result;
                try
                {
                    if (!old.IsConnected) break;
                    result = old.Run(RouterScript.Wrap(OutcomeScript()));
                }
                catch (BypassNatException)
                {
                    break;
                }

                if (result.Output.Contains("confirm=rolled-back")) return RolledBack(old, result, why, describe);
                if (result.Output.Contains("confirm=gone")) return Gone(endpoint, $"was not confirmed ({why})", describe);
                if (DateTime.UtcNow >= giveUp) break;
                Wait(DateTime.UtcNow.AddSeconds(1), cancel);
            }

            return new BypassNatException("BypassNat.ConfirmFailed", FailureKind.ConnectionError,
                $"The apply on {endpoint} was not confirmed: {why}, and the router could not be asked what it holds since. " +
                $"{restores}, unless the new forwards are confirmed first; it never holds a mix. Check with Get-BypassForward once it answers.", endpoint);
        }

        // Neither the watchdog's token nor its outcome: /run was cleared or the router restarted (whose
        // restore.sh rolls an unconfirmed change back where -Persist kept the rollback). Says what it holds.
        private static BypassNatException Gone(string endpoint, string what, Func<string> describe) =>
            new BypassNatException("BypassNat.ConfirmFailed", FailureKind.InvalidResult,
                $"The apply on {endpoint} {what}: the router holds neither this apply's watchdog nor its outcome (was /run cleared, or the router restarted?). " +
                $"Read back: {Describe(describe)}", endpoint);

        private BypassNatException RolledBack(RouterSession old, CommandResult outcome, string why, Func<string> describe)
        {
            string endpoint = old.Settings.Endpoint;
            Match status = Regex.Match(outcome.Output, "confirm=rolled-back (\\d+)");
            string holds = Describe(describe);

            if (status.Success && status.Groups[1].Value == "0")
                return new BypassNatException("BypassNat.RolledBack", FailureKind.ConnectionError,
                    $"The apply on {endpoint} was rolled back: {why} within {TimeoutSeconds} s (-ConfirmTimeout), so the router's watchdog restored its previous {Count(Previous)} by itself. " +
                    $"Read back: {holds} Find out why new SSH connections fail (a firewall rule, the SSH port, sshd) before applying again.", endpoint);
            string log = string.Join(" ", outcome.Output.Split('\n').Where(l => l.StartsWith("confirm-log: ", StringComparison.Ordinal)).Select(l => l.Substring(13).Trim()));
            return new BypassNatException("BypassNat.RollbackFailed", FailureKind.InvalidResult,
                $"The apply on {endpoint} was not confirmed ({why}), and the router's watchdog tried to restore its previous {Count(Previous)} but reported a failure: {log} " +
                $"Read back: {holds} Apply again to bring it to a known set.", endpoint);
        }

        private static string Describe(Func<string> describe)
        {
            try
            {
                return describe();
            }
            catch (BypassNatException e)
            {
                return $"reading it back failed ({e.Message})";
            }
        }

        private static void Wait(DateTime until, CancellationToken cancel)
        {
            TimeSpan left = until - DateTime.UtcNow;
            if (left > TimeSpan.Zero) cancel.WaitHandle.WaitOne(left);
            cancel.ThrowIfCancellationRequested();
        }

        private static string Count(IReadOnlyList<BypassForward> forwards) =>
            forwards.Count == 0 ? "state (no forwards)" : forwards.Count == 1 ? "forward (" + forwards[0].Name + ")" : $"{forwards.Count} forwards ({string.Join(", ", forwards.Select(f => f.Name).OrderBy(n => n, StringComparer.Ordinal))})";

        private static string FormatUtc(DateTime utc) => utc.ToString("HH:mm:ss 'UTC'", CultureInfo.InvariantCulture);

        private static string Detail(CommandResult result)
        {
            string detail = result.Error.Trim();
            if (detail.Length == 0) detail = result.Output.Trim();
            return detail.Length > 500 ? detail.Substring(0, 500) + " ..." : detail;
        }
    }
}
