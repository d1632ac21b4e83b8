using System.Text;
using BypassNat.Backends;
using BypassNat.Registry;

namespace BypassNat.Persistence
{
    /// <summary>
    /// The OpenWrt side of -Persist, as shell for the router. The firewall itself brings the forwards
    /// back: a UCI <c>config include</c> named <c>bypassnat</c> makes firewall4 load the saved nft
    /// file at every start, reload and restart (and fw3 or fw4 run the iptables restore script), so
    /// LuCI's Save &amp; Apply, interface events, a proxy's firewall restart and a boot all restore them.
    /// cron runs the watcher for flushes that bypass the firewall. What a default image lacks
    /// (/etc/crontabs/root, an enabled cron service) is created, and the router says so.
    /// </summary>
    internal sealed class OpenWrtHooks
    {
        private readonly RouterHop _hop;

        public OpenWrtHooks(RouterHop hop) => _hop = hop;

        /// <summary>The hop's UCI include: firewall.bypassnat for the bypass hop.</summary>
        public string Section => "firewall." + _hop.UciSection;

        private string LegacyInclude => "/usr/share/nftables.d/ruleset-post/" + _hop.UnitName + ".nft";

        /// <summary>The exit code of a script that refused to commit someone else's pending UCI changes.</summary>
        public const int PendingChanges = 3;

        // What -Persist had to create or enable, so that removing everything takes exactly that away again.
        private string CronEnabledMarker => _hop.Directory + "/cron-enabled-by-bypassnat";
        private string CrontabCreatedMarker => _hop.Directory + "/crontab-created-by-bypassnat";

        /// <summary>
        /// Shell that defines <c>hook_firewall</c>: (re)writes the include for the backend's saved file
        /// and has firewall4 check the whole ruleset with it; a ruleset fw4 refuses takes the include
        /// out again, so the next firewall reload never fails because of BypassNat.
        /// A commit writes every pending change of the config, not only ours, so a firewall config with
        /// someone else's uncommitted changes (<c>uci changes firewall</c>) is refused, not committed.
        /// </summary>
        public string FirewallFunction(string p, IScriptedBackend backend)
        {
            var s = new StringBuilder();
            s.Append("hook_firewall() {\n");
            s.Append(RefusePendingChanges(p));
            s.Append($"  {p}uci -q delete {Section} || true\n");
            s.Append($"  {p}uci set {Section}=include\n");
            if (backend.FirewallIncludesSavedFile)
            {
                // Included after fw4's own table; the file flushes its own table first, so a reload
                // replaces the table instead of adding a second copy of every rule.
                s.Append($"  {p}uci set {Section}.type=nftables\n");
                s.Append($"  {p}uci set {Section}.path={_hop.Directory}/{backend.SavedFile}\n");
                s.Append($"  {p}uci set {Section}.position=ruleset-append\n");
            }
            else
            {
                s.Append($"  {p}uci set {Section}.type=script\n");
                s.Append($"  {p}uci set {Section}.path={_hop.Directory}/restore.sh\n");
                // fw3 runs an include on reload only when asked; fw4 runs scripts it is told are its kind.
                s.Append($"  if command -v fw4 >/dev/null 2>&1; then {p}uci set {Section}.fw4_compatible=1; else {p}uci set {Section}.reload=1; fi\n");
            }
            s.Append($"  {p}uci commit firewall\n");
            // An earlier BypassNat build's include (firewall4 loads every file there) could load an older set over this one.
            s.Append($"  {p}rm -f {LegacyInclude}\n");
            s.Append("  if command -v fw4 >/dev/null 2>&1 && ! checked=$(").Append(p).Append("fw4 -q check 2>&1); then\n");
            s.Append("    unhook_firewall\n");
            s.Append("    echo \"firewall4 refuses its ruleset with the BypassNat include ($checked); the include was taken out again\" >&2\n");
            s.Append("    return 1\n");
            s.Append("  fi\n");
            s.Append("}\n");
            s.Append(UnhookFunction(p));
            return s.ToString();
        }

        private string UnhookFunction(string p) =>
            "unhook_firewall() {\n" +
            $"  command -v uci >/dev/null 2>&1 && uci -q get {Section} >/dev/null || return 0\n" +
            RefusePendingChanges(p) +
            $"  {p}uci delete {Section}\n" +
            $"  {p}uci commit firewall\n" +
            "}\n";

        private static string RefusePendingChanges(string p) =>
            $"  if [ -n \"$({p}uci -q changes firewall)\" ]; then\n" +
            "    echo \"the firewall config has uncommitted changes (uci changes firewall), and a commit would apply them too: commit or revert them first\" >&2\n" +
            $"    return {PendingChanges}\n" +
            "  fi\n";

        /// <summary>Shell (inside the OpenWrt branch of the install script): the include, then cron.</summary>
        public string Install(string p, string cronLine)
        {
            string warn = "echo '" + RouterScript.WarningPrefix;
            var s = new StringBuilder();
            s.Append("  if command -v uci >/dev/null 2>&1; then\n");
            s.Append("    hook_firewall\n");
            s.Append("  else\n");
            s.Append("    ").Append(warn).Append("uci is not installed, so the firewall cannot restore the forwards at its start and reload; only cron will' >&2\n");
            s.Append("  fi\n");
            s.Append("  if [ -x /etc/init.d/cron ]; then\n");
            // A default image has no /etc/crontabs: `touch` alone failed there.
            s.Append("    if [ ! -f /etc/crontabs/root ]; then\n");
            s.Append($"      {p}mkdir -p /etc/crontabs\n");
            s.Append($"      {p}touch /etc/crontabs/root {CrontabCreatedMarker}\n");
            s.Append("      ").Append(warn).Append("created /etc/crontabs/root for the watcher (a default OpenWrt image has none)' >&2\n");
            s.Append("    fi\n");
            s.Append($"    grep -qxF '{cronLine}' /etc/crontabs/root || {{ {{ cat /etc/crontabs/root; echo '{cronLine}'; }} | put /etc/crontabs/root; }}\n");
            s.Append("    if ! /etc/init.d/cron enabled; then\n");
            s.Append($"      {p}/etc/init.d/cron enable\n");
            s.Append($"      {p}touch {CronEnabledMarker}\n");
            s.Append("      ").Append(warn).Append("enabled the cron service (/etc/init.d/cron enable), which was disabled; Remove-BypassForward -All disables it again' >&2\n");
            s.Append("    fi\n");
            // crond reads the crontab again on a restart; it also starts a cron that was not running.
            // 9>&-: the router-side lock is held on fd 9 (RouterLock); a daemon started from here must not
            // inherit it, or it holds the lock for as long as it runs.
            s.Append($"    {p}/etc/init.d/cron restart >/dev/null 2>&1 9>&- || {{ echo 'the cron service did not start (/etc/init.d/cron restart)' >&2; exit 1; }}\n");
            s.Append("  else\n");
            s.Append("    ").Append(warn).Append("this router has no cron service (/etc/init.d/cron): the firewall restores the forwards at every start and reload, but nothing puts them back after a flush that bypasses the firewall' >&2\n");
            s.Append("  fi\n");
            return s.ToString();
        }

        /// <summary>Shell that takes out the include, the cron line, and cron itself where -Persist enabled it.</summary>
        public string Uninstall(string p, string cronLine)
        {
            var s = new StringBuilder();
            s.Append(UnhookFunction(p));
            s.Append("unhook_firewall || exit $?\n");
            // Where an earlier BypassNat build put its fw4 include.
            s.Append($"{p}rm -f {LegacyInclude}\n");
            s.Append($"if [ -f /etc/crontabs/root ] && grep -qxF '{cronLine}' /etc/crontabs/root; then\n");
            s.Append($"  grep -vxF '{cronLine}' /etc/crontabs/root | {p}tee /etc/crontabs/root.bypassnat-new >/dev/null || true\n");
            s.Append($"  {p}mv -f /etc/crontabs/root.bypassnat-new /etc/crontabs/root\n");
            s.Append("  cron_changed=1\n");
            s.Append("fi\n");
            // What -Persist created for the watcher alone goes again, unless something else uses it now.
            s.Append($"if [ -f {CrontabCreatedMarker} ] && [ -f /etc/crontabs/root ] && [ ! -s /etc/crontabs/root ]; then\n");
            s.Append($"  {p}rm -f /etc/crontabs/root\n");
            s.Append($"  {p}rmdir /etc/crontabs 2>/dev/null || true\n");
            s.Append("fi\n");
            s.Append($"if [ -f {CronEnabledMarker} ] && [ -x /etc/init.d/cron ] && [ ! -s /etc/crontabs/root ]; then\n");
            s.Append($"  {p}/etc/init.d/cron stop >/dev/null 2>&1 || true\n");
            s.Append($"  {p}/etc/init.d/cron disable\n");
            s.Append("elif [ -n \"$cron_changed\" ] && [ -x /etc/init.d/cron ]; then\n");
            s.Append($"  {p}/etc/init.d/cron restart >/dev/null 2>&1 9>&- || true\n");
            s.Append("fi\n");
            return s.ToString();
        }
    }
}
