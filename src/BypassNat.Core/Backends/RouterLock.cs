using System;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using BypassNat.Ssh;

namespace BypassNat.Backends
{
    /// <summary>
    /// The router-side lock every writing script takes before it changes anything: applies, removes,
    /// -Persist's install and uninstall, and the watcher (restore.sh). Two writers are never
    /// interleaved: a second one waits a bounded time, then fails without changing anything and
    /// names the holder. It is a <c>flock</c> on a file in /run (or /tmp where /run is absent), taken
    /// with <c>flock -n</c> in a loop because BusyBox's applet has no <c>-w</c>.
    /// </summary>
    /// <remarks>
    /// Beside the lock, a generation token that each writer replaces once it holds the lock: the
    /// survey reads it without the lock, and the write compares it under the lock, so a write planned
    /// against a state another writer has since changed stops before it changes anything.
    /// </remarks>
    public static class RouterLock
    {
        /// <summary>How long a writer waits for the lock by default.</summary>
        public const int DefaultTimeoutSeconds = RouterSession.DefaultLockTimeoutSeconds;

        /// <summary>The exit code of a script that gave up waiting for the lock (EX_TEMPFAIL).</summary>
        public const int BusyExitCode = 75;

        /// <summary>The exit code of a write whose router changed since it was planned.</summary>
        public const int ChangedExitCode = 76;

        private const string BusyPrefix = "bypassnat-busy: ";
        private const string ChangedPrefix = "bypassnat-changed: ";

        /// <summary>Sets <c>bypassnat_lockdir</c>: tmpfs, so a stale holder never survives a reboot.</summary>
        public const string DirectoryScript = "bypassnat_lockdir=/run/bypassnat\n[ -d /run ] || bypassnat_lockdir=/tmp/bypassnat\n";

        /// <summary>Prints the generation token the next write will be checked against ("none" before any write).</summary>
        public const string GenerationScript = DirectoryScript + "cat \"$bypassnat_lockdir/generation\" 2>/dev/null || echo none\nexit 0\n";

        /// <summary>
        /// The lines a writing script starts with, in its main shell (the lock is held through file
        /// descriptor 9 until the script exits). Where flock is missing or the lock file cannot be
        /// made, the script goes on with a warning, so the user knows it was not serialised.
        /// </summary>
        /// <param name="holder">Who is writing, for the error of a writer that gives up waiting.</param>
        /// <param name="expectedGeneration">The token the plan was made against; null when the write does not depend on a survey.</param>
        /// <param name="newGeneration">The token this write leaves.</param>
        /// <param name="privileged">The prefix of privileged commands (<c>sudo -n </c> for a sudo login): a login that cannot
        /// make the lock file in /run itself makes it through sudo with <c>mkdir</c> and <c>touch</c>, and writes the side files
        /// through <c>tee</c>, commands -Persist already asks of it, so every writer meets at the same lock.</param>
        public static string Prologue(int timeoutSeconds, string holder, string expectedGeneration, string newGeneration, string privileged = "")
        {
            string p = privileged ?? string.Empty;
            var s = new StringBuilder();
            s.Append(DirectoryScript);
            s.Append("if ! command -v flock >/dev/null 2>&1; then\n");
            s.Append("  echo '").Append(RouterScript.WarningPrefix).Append("flock is missing on the router, so this change is not serialised with other BypassNat writers (install util-linux, or a BusyBox with flock)' >&2\n");
            s.Append("elif { [ -d \"$bypassnat_lockdir\" ] || mkdir -p \"$bypassnat_lockdir\"").Append(p.Length > 0 ? " || " + p + "mkdir -p \"$bypassnat_lockdir\"" : "").Append("; } 2>/dev/null \\\n");
            s.Append("  && { [ -f \"$bypassnat_lockdir/lock\" ] || (umask 0; : >> \"$bypassnat_lockdir/lock\")").Append(p.Length > 0 ? " || " + p + "touch \"$bypassnat_lockdir/lock\"" : "").Append("; } 2>/dev/null && [ -r \"$bypassnat_lockdir/lock\" ]; then\n");
            s.Append("  exec 9<\"$bypassnat_lockdir/lock\"\n");
            s.Append("  bypassnat_waited=0\n");
            s.Append("  until flock -n 9; do\n");
            s.Append("    if [ \"$bypassnat_waited\" -ge ").Append(timeoutSeconds.ToString(CultureInfo.InvariantCulture)).Append(" ]; then\n");
            s.Append("      printf '").Append(BusyPrefix).Append("%s\\n' \"$(cat \"$bypassnat_lockdir/holder\" 2>/dev/null || echo 'a writer that left no description')\" >&2\n");
            s.Append("      exit ").Append(BusyExitCode.ToString(CultureInfo.InvariantCulture)).Append('\n');
            s.Append("    fi\n");
            s.Append("    sleep 1\n    bypassnat_waited=$((bypassnat_waited + 1))\n");
            s.Append("  done\n");
            if (expectedGeneration != null)
            {
                s.Append("  bypassnat_generation=$(cat \"$bypassnat_lockdir/generation\" 2>/dev/null || echo none)\n");
                s.Append("  if [ \"$bypassnat_generation\" != '").Append(expectedGeneration).Append("' ]; then\n");
                s.Append("    printf '").Append(ChangedPrefix).Append("%s\\n' \"$(cat \"$bypassnat_lockdir/holder\" 2>/dev/null || echo 'a writer that left no description')\" >&2\n");
                s.Append("    exit ").Append(ChangedExitCode.ToString(CultureInfo.InvariantCulture)).Append('\n');
                s.Append("  fi\n");
            }

            // Anyone may be the next writer (root, or a sudo login that cannot sudo printf), so the side files are world-writable;
            // where root made them first, a sudo login writes them through tee.
            s.Append("  { printf 'pid %s since %s: ' \"$$\" \"$(date -u '+%Y-%m-%d %H:%M:%S UTC')\"; cat <<'BYPASSNAT_HOLDER'\n");
            s.Append(Clean(holder)).Append('\n');
            s.Append("BYPASSNAT_HOLDER\n");
            s.Append("  } | ").Append(SideFile("holder", p)).Append('\n');
            s.Append("  printf '%s\\n' '").Append(newGeneration).Append("' | ").Append(SideFile("generation", p)).Append('\n');
            s.Append("else\n");
            s.Append("  echo '").Append(RouterScript.WarningPrefix).Append("could not make the lock file in '\"$bypassnat_lockdir\"', so this change is not serialised with other BypassNat writers (run BypassNat once as root)' >&2\n");
            s.Append("fi\n");
            return s.ToString();
        }

        // Copies standard input to a file beside the lock; the redirection fails before cat reads, so tee still gets the input.
        private static string SideFile(string name, string p) =>
            "{ (umask 0; cat > \"$bypassnat_lockdir/" + name + "\") 2>/dev/null" +
            (p.Length > 0 ? " || " + p + "tee \"$bypassnat_lockdir/" + name + "\" >/dev/null 2>&1" : "") + " || true; }";

        /// <summary>A fresh generation token.</summary>
        public static string NewGeneration() => Guid.NewGuid().ToString("N");

        /// <summary>A token read from the router, if it is one a script can quote; null (no check) otherwise.</summary>
        public static string ParseGeneration(string output)
        {
            string token = (output ?? string.Empty).Trim();
            return Regex.IsMatch(token, "^[A-Za-z0-9._-]{1,64}$") ? token : null;
        }

        /// <summary>Who runs this command, as the holder a waiting writer names.</summary>
        public static string Holder(RouterSession session, string what) =>
            $"{what}, by {Environment.UserName} on {Environment.MachineName} as {session.Settings.UserName}";

        /// <summary>
        /// Runs a writing script under the lock. A writer that waited too long, or whose router another
        /// writer changed since <paramref name="expectedGeneration"/> was read, ran nothing, and the
        /// error says so.
        /// </summary>
        public static CommandResult Run(RouterSession session, string script, string what, string expectedGeneration = null)
        {
            CommandResult result = session.Run(Prologue(session.LockTimeoutSeconds, Holder(session, what), expectedGeneration, NewGeneration(), session.Privileged) + script, what);
            string endpoint = session.Settings.Endpoint;
            if (result.ExitCode == BusyExitCode && TryLine(result.Error, BusyPrefix, out string holder))
                throw new BypassNatException("BypassNat.RouterBusy", FailureKind.InvalidOperation,
                    $"Another BypassNat writer held the lock on {endpoint} for longer than {session.LockTimeoutSeconds} s ({holder}). " +
                    $"Nothing was changed: the router keeps what that writer leaves. Run again once it is done (or raise -LockTimeout).", endpoint);
            if (result.ExitCode == ChangedExitCode && TryLine(result.Error, ChangedPrefix, out string writer))
                throw new BypassNatException("BypassNat.RouterChanged", FailureKind.InvalidOperation,
                    $"Another writer changed BypassNat's forwards on {endpoint} after this command read them (last writer: {writer}). " +
                    "Nothing was changed by this command: the router keeps what that writer left. Run it again: it plans against what the router holds now.", endpoint);
            return result;
        }

        private static bool TryLine(string error, string prefix, out string rest)
        {
            foreach (string line in (error ?? string.Empty).Split('\n'))
            {
                if (!line.StartsWith(prefix, StringComparison.Ordinal)) continue;
                rest = line.Substring(prefix.Length).Trim();
                return true;
            }

            rest = null;
            return false;
        }

        // One line without a line that ends the here-document.
        private static string Clean(string text)
        {
            string line = Regex.Replace(text ?? string.Empty, "[^\\x20-\\x7E]", "?");
            return line.Length > 200 ? line.Substring(0, 200) : line;
        }
    }
}
