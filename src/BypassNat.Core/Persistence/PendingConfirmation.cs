using BypassNat.Registry;

namespace BypassNat.Persistence
{
    /// <summary>
    /// The file a -ConfirmTimeout apply leaves beside the saved set (written and removed by
    /// <c>CommitConfirmation</c>) and restore.sh's part that honours it: here, below the apply, because
    /// both the apply and -Persist's restore script must agree on its name, its token line and where the
    /// watchdog keeps its state.
    /// </summary>
    internal static class PendingConfirmation
    {
        /// <summary>
        /// Where -Persist keeps its saved set, a copy of the rollback survives a reboot: /run (the
        /// watchdog's state) does not, and the boot would otherwise restore the unconfirmed saved set and
        /// keep it. restore.sh runs this copy when no live watchdog holds its token (<see cref="RestoreCheck"/>);
        /// the confirmation and the rollback itself remove it.
        /// </summary>
        public static string File(RouterHop hop) => hop.Directory + "/" + FileName;

        private const string FileName = "confirm-pending.sh";

        internal const string TokenLine = "# bypassnat-confirm-token=";

        /// <summary>
        /// restore.sh's part (run under its lock; <paramref name="lockdir"/> and <paramref name="dir"/> name the
        /// shell variables of the lock's directory and of the saved set's): a change whose watchdog is gone unconfirmed (a reboot cleared /run) is rolled back
        /// before anything is restored, as the watchdog would have done.
        /// </summary>
        internal static string RestoreCheck(RouterHop hop, string lockdir, string dir) =>
            "pending=\"$" + dir + "\"/" + FileName + "\n" +
            "if [ -f \"$pending\" ]; then\n" +
            "  token=$(sed -n '1s/^" + TokenLine + "//p' \"$pending\")\n" +
            "  state=" + StatePrefix(hop, lockdir) + "\n" +
            "  pid=$(cat \"$state.pid\" 2>/dev/null)\n" +
            "  if [ \"$(cat \"$state.token\" 2>/dev/null)\" != \"$token\" ] || [ -z \"$pid\" ] || [ ! -d \"/proc/$pid\" ]; then\n" +
            "    echo \"BypassNat: an apply was never confirmed (-ConfirmTimeout) and its watchdog is gone; putting back the forwards it replaced\" >&2\n" +
            "    restored\n" +
            "    sh \"$pending\" || echo 'BypassNat: the rollback of the unconfirmed apply failed' >&2\n" +
            "    rm -f \"$pending\"\n" +
            "  fi\n" +
            "fi\n";

        // The prefix as shell text, with the lock's directory in the named variable (restore.sh calls it lockdir).
        internal static string StatePrefix(RouterHop hop, string lockdir) => "\"$" + lockdir + "\"/confirm/" + hop.UnitName;
    }
}
