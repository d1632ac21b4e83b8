using System.Collections.Generic;
using System.Linq;
using System.Text;
using BypassNat.Backends;
using BypassNat.Backends.Iptables;
using BypassNat.Backends.Nftables;
using BypassNat.Ssh;
using BypassNat.Registry;

namespace BypassNat.Persistence
{
    /// <summary>
    /// Installs the applied forwards on the router so they come back on their own: restored at boot
    /// (a systemd unit, or an OpenWrt firewall include) and re-applied by a watcher (a systemd timer,
    /// or cron on OpenWrt) whenever they have been flushed. Every file is written to a temporary name
    /// and renamed into place, so a router never boots from half a file.
    /// </summary>
    public sealed class PersistenceInstaller
    {
        private const string SystemdDirectory = "/etc/systemd/system";

        private readonly RouterSession _session;
        private readonly RouterHop _hop;

        // Each hop has its own directory, units, include and cron line, so saving the main router's
        // half on a box that is also a bypass router never overwrites the bypass half, and back.
        private string Directory => _hop.Directory;
        private string RestoreScript => Directory + "/restore.sh";
        private string CronLine => "* * * * * /bin/sh " + RestoreScript + " --if-missing";
        private string Unit => _hop.UnitName;
        private OpenWrtHooks Hooks => new OpenWrtHooks(_hop);

        public PersistenceInstaller(RouterSession session, RouterHop hop = null)
        {
            _session = session;
            _hop = hop ?? RouterHop.Bypass;
        }

        /// <summary>
        /// Writes the ruleset and, when <paramref name="install"/>, the boot and watch hooks. Without
        /// it, only refreshes the ruleset of an earlier -Persist, so the router never restores a stale
        /// set after a later apply. Returns how the router persists them, or null when it does not.
        /// </summary>
        /// <param name="exemption">The proxy exemption's chain (<see cref="Proxy.ProxyExemption.SavedChain"/>); empty: none, null: leave the saved one as it is.</param>
        /// <param name="nftExemption">The same for the rules in a native nftables proxy's chains (<see cref="Proxy.ProxyExemption.SavedNft"/>).</param>
        /// <param name="ipv6">The same for the hop's IPv6 rules (<see cref="Backends.Iptables.Ipv6Pinholes.Saved"/>).</param>
        public string Save(IScriptedBackend backend, IReadOnlyList<BypassForward> forwards, RenderContext context, bool install, out IReadOnlyList<string> warnings,
            string exemption = null, string nftExemption = null, string ipv6 = null)
        {
            CommandResult result = RouterLock.Run(_session, RouterScript.Wrap(SaveScript(_session.Privileged, backend, forwards, context, install, exemption, nftExemption, ipv6)), "saving the forwards for boot (-Persist)");
            return Saved(result, out warnings);
        }

        /// <summary>Prints "persisted=yes" when an earlier -Persist installed this hop's forwards, so an apply knows to refresh the saved set.</summary>
        public string InstalledScript => "[ -f " + RestoreScript + " ] && echo persisted=yes\nexit 0\n";

        /// <summary>How the router persists the forwards, from what <see cref="SaveScript"/> printed; throws when it failed.</summary>
        public string Saved(CommandResult result, out IReadOnlyList<string> warnings)
        {
            if (!result.Succeeded)
                throw RouterScript.Failure(_session, "save the forwards for boot (-Persist); the rules on the router were not changed", result,
                    "mkdir, tee, mv, rm, ln and systemctl, or uci and fw4 on OpenWrt");
            warnings = RouterScript.Warnings(result);
            string how = System.Text.RegularExpressions.Regex.Match(result.Output, "persisted=(\\w+)").Groups[1].Value;
            return how == "none" || how.Length == 0 ? null : how;
        }

        /// <summary>The save as a script body, so an apply can run it in the same command as the rules it saves.</summary>
        public string SaveScript(string p, IScriptedBackend backend, IReadOnlyList<BypassForward> forwards, RenderContext context, bool install, string exemption = null,
            string nftExemption = null, string ipv6 = null)
        {
            string ruleset = backend.RenderSaved(forwards, context);
            string file = backend.SavedFile;

            var script = new StringBuilder();
            script.Append("set -e\numask 022\n");
            if (!install) script.Append($"[ -f {RestoreScript} ] || {{ echo persisted=none; exit 0; }}\n");
            script.Append($"{p}mkdir -p {Directory}\n");
            script.Append("put() {\n  tmp=\"$1.bypassnat-new\"\n  ").Append(p).Append("tee \"$tmp\" >/dev/null\n  ").Append(p).Append("mv -f \"$tmp\" \"$1\"\n}\n");
            AppendFile(script, $"{Directory}/{file}", ruleset);
            // The other backends' saved sets: restore.sh must find only this one.
            foreach (string stale in BackendRegistry.Surveyed(new BackendSite(_hop, _session)).Select(b => b.SavedFile).Where(f => f != file).Distinct())
                script.Append($"{p}rm -f {Directory}/{stale}\n");
            if (exemption != null && exemption.Length > 0) AppendFile(script, $"{Directory}/{ExemptionFile}", exemption);
            else if (exemption != null) script.Append($"{p}rm -f {Directory}/{ExemptionFile}\n");
            if (nftExemption != null && nftExemption.Length > 0) AppendFile(script, $"{Directory}/{NftExemptionFile}", nftExemption);
            else if (nftExemption != null) script.Append($"{p}rm -f {Directory}/{NftExemptionFile}\n");
            if (ipv6 != null && ipv6.Length > 0) AppendFile(script, $"{Directory}/{Ipv6File}", ipv6);
            else if (ipv6 != null) script.Append($"{p}rm -f {Directory}/{Ipv6File}\n");
            AppendFile(script, RestoreScript, RestoreScriptText());
            script.Append(Hooks.FirewallFunction(p, backend));
            if (!install)
            {
                // The include names the backend's file: after a change of backend it must name the other one.
                string hooked = backend.FirewallIncludesSavedFile ? $"{Directory}/{file}" : RestoreScript;
                script.Append($"if [ -f /etc/openwrt_release ] && command -v uci >/dev/null 2>&1 && uci -q get {Hooks.Section} >/dev/null \\\n");
                script.Append($"   && [ \"$(uci -q get {Hooks.Section}.path)\" != {hooked} ]; then hook_firewall; fi\n");
                script.Append("echo persisted=updated\n");
            }
            else
            {
                script.Append("if [ -f /etc/openwrt_release ]; then\n");
                script.Append(Hooks.Install(p, CronLine));
                script.Append("  echo persisted=openwrt\n");
                script.Append($"elif [ -d {SystemdDirectory} ] || [ -d /run/systemd/system ]; then\n");
                AppendFile(script, $"{SystemdDirectory}/{Unit}.service", BootUnit, "  ");
                AppendFile(script, $"{SystemdDirectory}/{Unit}-watch.service", WatchUnit, "  ");
                AppendFile(script, $"{SystemdDirectory}/{Unit}-watch.timer", WatchTimer, "  ");
                // Enabling is two symlinks; made by hand so it also works where systemd is not running yet.
                script.Append($"  {p}mkdir -p {SystemdDirectory}/multi-user.target.wants {SystemdDirectory}/timers.target.wants\n");
                script.Append($"  {p}ln -sf {SystemdDirectory}/{Unit}.service {SystemdDirectory}/multi-user.target.wants/{Unit}.service\n");
                script.Append($"  {p}ln -sf {SystemdDirectory}/{Unit}-watch.timer {SystemdDirectory}/timers.target.wants/{Unit}-watch.timer\n");
                script.Append("  if [ -d /run/systemd/system ]; then\n");
                script.Append($"    {p}systemctl daemon-reload\n    {p}systemctl start {Unit}-watch.timer\n");
                script.Append("  else\n");
                script.Append("    echo '").Append(RouterScript.WarningPrefix).Append("systemd is not running on the router; the units are installed and enabled for the next boot' >&2\n");
                script.Append("  fi\n");
                script.Append("  echo persisted=systemd\n");
                script.Append("else\n");
                script.Append("  echo '").Append(RouterScript.WarningPrefix).Append($"neither systemd nor OpenWrt found: run {RestoreScript} at boot, and restore.sh --if-missing every minute, yourself' >&2\n");
                script.Append("  echo persisted=files\n");
                script.Append("fi\n");
            }

            return script.ToString();
        }

        /// <summary>What a read-back after a failed save found: nothing of -Persist, the given set, or something else (or it could not tell).</summary>
        public enum SavedState { Nothing, Same, Other }

        /// <summary>
        /// After a save failed (and its undo, which needs the same rights, too): reads what the router
        /// holds, without privileges (the files are world-readable), so the error can say it instead
        /// of guessing. The saved ruleset is compared with the one <paramref name="forwards"/> render to.
        /// </summary>
        public SavedState Holds(IScriptedBackend backend, IReadOnlyList<BypassForward> forwards, RenderContext context)
        {
            string file = $"{Directory}/{backend.SavedFile}";
            CommandResult result = _session.Run(RouterScript.Wrap(
                $"if [ -e {RestoreScript} ] || [ -e {Directory}/ruleset.nft ] || [ -e {Directory}/ruleset.iptables ]; then echo '@@installed'; fi\n" +
                $"[ -r {file} ] && cat {file}\nexit 0\n"), "reading back what -Persist left");
            if (!result.Succeeded) return SavedState.Other;
            if (!result.Output.StartsWith("@@installed\n", System.StringComparison.Ordinal)) return SavedState.Nothing;
            string saved = result.Output.Substring("@@installed\n".Length);
            return forwards != null && saved.Trim() == backend.RenderSaved(forwards, context).Trim() ? SavedState.Same : SavedState.Other;
        }

        /// <summary>Whether an earlier -Persist installed the forwards on the router.</summary>
        public bool IsInstalled()
        {
            CommandResult result = _session.Run($"[ -f {RestoreScript} ] && echo installed || echo none\n");
            if (!result.Succeeded) throw RouterScript.Failure(_session, "look for an earlier -Persist", result, "sh");
            return result.Output.Contains("installed");
        }

        /// <summary>Removes every file and hook -Persist installed; nothing happens where there are none.</summary>
        public void Uninstall() => Uninstalled(RouterLock.Run(_session, RouterScript.Wrap(UninstallScript(_session.Privileged)), "removing what -Persist installed"));

        /// <summary>Throws the error of a failed <see cref="UninstallScript(string)"/>.</summary>
        public void Uninstalled(CommandResult result)
        {
            if (result.ExitCode == OpenWrtHooks.PendingChanges)
                throw new BypassNatException("BypassNat.UncommittedChanges", FailureKind.InvalidOperation,
                    $"The router {_session.Settings.Endpoint} has uncommitted changes to its firewall config (uci changes firewall), and removing BypassNat's include would commit them too. " +
                    "Nothing was removed: the router keeps its forwards and what -Persist installed. Commit or revert those changes, then run again.",
                    _session.Settings.Endpoint);
            if (!result.Succeeded)
                throw RouterScript.Failure(_session, "remove what -Persist installed", result, "rm, mv, tee and systemctl");
        }

        /// <summary>The uninstall as a script body, for a caller that runs it beside other steps under one lock (-All), or on the router later (a -ConfirmTimeout rollback of a first -Persist).</summary>
        public string UninstallScript(string p)
        {
            var script = new StringBuilder();
            // The OpenWrt part first: the one step that can refuse (uncommitted UCI changes) then
            // refuses before anything is removed.
            script.Append(Hooks.Uninstall(p, CronLine));
            script.Append($"if [ -d /run/systemd/system ] && [ -f {SystemdDirectory}/{Unit}-watch.timer ]; then {p}systemctl disable --now {Unit}-watch.timer {Unit}.service >/dev/null 2>&1 || true; fi\n");
            script.Append($"{p}rm -f {SystemdDirectory}/multi-user.target.wants/{Unit}.service {SystemdDirectory}/timers.target.wants/{Unit}-watch.timer\n");
            script.Append($"{p}rm -f {SystemdDirectory}/{Unit}.service {SystemdDirectory}/{Unit}-watch.service {SystemdDirectory}/{Unit}-watch.timer\n");
            script.Append($"if [ -d /run/systemd/system ]; then {p}systemctl daemon-reload || true; fi\n");
            script.Append($"{p}rm -rf {Directory}\n");
            return script.ToString();
        }

        private static void AppendFile(StringBuilder script, string path, string content, string indent = "")
        {
            script.Append(indent).Append("put ").Append(path).Append(" <<'BYPASSNAT_FILE'\n");
            script.Append(content);
            if (!content.EndsWith("\n")) script.Append('\n');
            script.Append("BYPASSNAT_FILE\n");
        }

        /// <summary>The router-side restore: the whole saved ruleset, or with --if-missing only when it is gone.</summary>
        internal string RestoreScriptText() =>
            "#!/bin/sh\n" +
            "# Written by BypassNat. Restores the forwards saved beside it; with --if-missing, only when they are gone\n" +
            "# (after a reboot, or a proxy's iptables -t nat -F). Edit the forwards with BypassNat, not here.\n" +
            "PATH=\"$PATH:/usr/sbin:/sbin:/usr/local/sbin\"\n" +
            $"dir={Directory}\n" +
            RestoreLock +
            PendingConfirmation.RestoreCheck(_hop, "lockdir", "dir") +
            RestoreExemption +
            RestoreNftExemption +
            RestoreIpv6 +
            "exempt \"$1\"\n" +
            "exempt_nft \"$1\"\n" +
            "restore_ipv6 \"$1\"\n" +
            "if [ -f \"$dir/ruleset.nft\" ]; then\n" +
            $"  if [ \"$1\" = --if-missing ] && nft list table {_hop.NftTable} >/dev/null 2>&1; then exit 0; fi\n" +
            "  restored\n" +
            "  exec nft -f \"$dir/ruleset.nft\"\n" +
            "fi\n" +
            "[ -f \"$dir/ruleset.iptables\" ] || exit 0\n" +
            $"hooked() {{ iptables -t nat -C PREROUTING -j {_hop.IptablesPrerouting} 2>/dev/null && iptables -t nat -C POSTROUTING -j {_hop.IptablesPostrouting} 2>/dev/null; }}\n" +
            $"count() {{ iptables -t nat -S \"$1\" 2>/dev/null | grep -c '^-A' || true; }}\n" +
            "if [ \"$1\" = --if-missing ] && hooked \\\n" +
            $"   && [ \"$(count {_hop.IptablesPrerouting})\" = \"$(grep -c '^-A {_hop.IptablesPrerouting} ' \"$dir/ruleset.iptables\" || true)\" ] \\\n" +
            $"   && [ \"$(count {_hop.IptablesPostrouting})\" = \"$(grep -c '^-A {_hop.IptablesPostrouting} ' \"$dir/ruleset.iptables\" || true)\" ]; then\n" +
            "  exit 0\n" +
            "fi\n" +
            "restored\n" +
            "{\n" +
            "  cat \"$dir/ruleset.iptables\"\n" +
            $"  iptables -t nat -C PREROUTING -j {_hop.IptablesPrerouting} 2>/dev/null || echo '-I PREROUTING 1 -j {_hop.IptablesPrerouting}'\n" +
            $"  iptables -t nat -C POSTROUTING -j {_hop.IptablesPostrouting} 2>/dev/null || echo '-I POSTROUTING 1 -j {_hop.IptablesPostrouting}'\n" +
            "  echo COMMIT\n" +
            "} | iptables-restore --noflush --wait 10\n";

        private const string ExemptionFile = "proxy-exemption.iptables";
        private const string NftExemptionFile = "proxy-exemption.nft";
        private const string Ipv6File = "ipv6.ip6tables";

        /// <summary>
        /// The hop's IPv6 rules (<see cref="Backends.Iptables.Ipv6Pinholes"/>), where saved: put back when a chain lost
        /// rules or its jump is no longer first (a proxy restarting, ip6tables -F, a reboot), whichever backend
        /// holds the IPv4 forwards. They live in ip6tables, which neither the nft table nor iptables' nat
        /// chains restore.
        /// </summary>
        private string RestoreIpv6 =>
            Backends.Iptables.Ipv6Pinholes.Functions(string.Empty, _hop.Role) +
            "restore_ipv6() {\n" +
            $"  [ -f \"$dir/{Ipv6File}\" ] || return 0\n" +
            $"  if [ \"$1\" = --if-missing ] && bypassnat_ip6_in_place < \"$dir/{Ipv6File}\"; then return 0; fi\n" +
            "  restored\n" +
            $"  bypassnat_ip6_put < \"$dir/{Ipv6File}\"\n" +
            "}\n";

        /// <summary>
        /// BypassNat's rules at the top of a native nftables proxy's chains (<see cref="Proxy.NftablesExemption"/>),
        /// where saved: put back when the proxy's restart (or fw4 reload) recreated its table without them or
        /// with its own rules before them; a chain that does not exist (the proxy is stopped) is left for a
        /// later tick.
        /// </summary>
        private static string RestoreNftExemption =>
            Proxy.NftablesExemption.BatchFunction(string.Empty) +
            "exempt_nft() {\n" +
            $"  [ -f \"$dir/{NftExemptionFile}\" ] && command -v nft >/dev/null 2>&1 || return 0\n" +
            $"  batch=$(bypassnat_nft_batch \"$1\" \"$(cat \"$dir/{NftExemptionFile}\")\")\n" +
            "  [ -n \"$batch\" ] || return 0\n" +
            "  restored\n" +
            "  printf '%s\\n' \"$batch\" | nft -f -\n" +
            "}\n";

        /// <summary>
        /// The proxy exemption (<see cref="Proxy.ProxyExemption"/>), where one is saved: restored when its
        /// chain's rules are missing or its jump is no longer the first rule of mangle PREROUTING (a proxy
        /// restarting puts its own jump first), whichever backend holds the forwards.
        /// </summary>
        private static string RestoreExemption =>
            "exempt() {\n" +
            $"  [ -f \"$dir/{ExemptionFile}\" ] || return 0\n" +
            $"  if [ \"$1\" = --if-missing ] && [ \"$(iptables -t mangle -S PREROUTING 2>/dev/null | sed -n 2p)\" = '-A PREROUTING -j {Proxy.ProxyExemption.Chain}' ] \\\n" +
            $"     && [ \"$(iptables -t mangle -S {Proxy.ProxyExemption.Chain} 2>/dev/null | grep -c '^-A' || true)\" = \"$(grep -c '^-A' \"$dir/{ExemptionFile}\" || true)\" ]; then return 0; fi\n" +
            "  restored\n" +
            $"  jumps=$(iptables -t mangle -S PREROUTING 2>/dev/null | grep -c -x -e '-A PREROUTING -j {Proxy.ProxyExemption.Chain}' || true)\n" +
            "  {\n" +
            "    echo '*mangle'\n" +
            $"    while [ \"$jumps\" -gt 0 ]; do echo '-D PREROUTING -j {Proxy.ProxyExemption.Chain}'; jumps=$((jumps - 1)); done\n" +
            $"    cat \"$dir/{ExemptionFile}\"\n" +
            $"    echo '-I PREROUTING 1 -j {Proxy.ProxyExemption.Chain}'\n" +
            "    echo COMMIT\n" +
            "  } | iptables-restore --noflush --wait 10\n" +
            "}\n";

        /// <summary>
        /// The restore takes the same lock as every other writer (<see cref="RouterLock"/>), so a watcher
        /// tick never lands inside an apply: with --if-missing it skips at once when the lock is held
        /// (the writer leaves the forwards in place, and the next tick looks again); at boot it waits.
        /// A restore replaces the generation token, so a write planned before it stops.
        /// </summary>
        private static string RestoreLock =>
            RouterLock.DirectoryScript.Replace("bypassnat_lockdir", "lockdir") +
            "restored() { (umask 0; printf 'restore-%s-%s\\n' \"$$\" \"$(date +%s)\" > \"$lockdir/generation\"; echo \"pid $$: BypassNat's restore.sh\" > \"$lockdir/holder\") 2>/dev/null || true; }\n" +
            "if command -v flock >/dev/null 2>&1 && { [ -d \"$lockdir\" ] || mkdir -p \"$lockdir\"; } 2>/dev/null \\\n" +
            "   && { [ -f \"$lockdir/lock\" ] || (umask 0; : >> \"$lockdir/lock\"); } 2>/dev/null && [ -r \"$lockdir/lock\" ]; then\n" +
            "  exec 9<\"$lockdir/lock\"\n" +
            "  if [ \"$1\" = --if-missing ]; then\n" +
            "    flock -n 9 || exit 0\n" +
            "  else\n" +
            "    waited=0\n" +
            "    until flock -n 9; do\n" +
            $"      if [ \"$waited\" -ge {RouterLock.DefaultTimeoutSeconds} ]; then echo \"BypassNat: not restored, the forwards are being changed ($(cat \"$lockdir/holder\" 2>/dev/null))\" >&2; exit {RouterLock.BusyExitCode}; fi\n" +
            "      sleep 1; waited=$((waited + 1))\n" +
            "    done\n" +
            "  fi\n" +
            "fi\n";

        internal string BootUnit =>
            "[Unit]\n" +
            $"Description=BypassNat: restore {_hop.Description}\n" +
            "After=network-pre.target nftables.service netfilter-persistent.service firewalld.service\n" +
            "Wants=network-pre.target\n\n" +
            "[Service]\n" +
            "Type=oneshot\n" +
            "ExecStart=/bin/sh " + RestoreScript + "\n" +
            "RemainAfterExit=yes\n\n" +
            "[Install]\n" +
            "WantedBy=multi-user.target\n";

        internal string WatchUnit =>
            "[Unit]\n" +
            $"Description=BypassNat: put {_hop.Description} back if something flushed them\n\n" +
            "[Service]\n" +
            "Type=oneshot\n" +
            "ExecStart=/bin/sh " + RestoreScript + " --if-missing\n";

        internal string WatchTimer =>
            "[Unit]\n" +
            $"Description=BypassNat: check {_hop.Description} every 15 seconds\n\n" +
            "[Timer]\n" +
            "OnBootSec=30s\n" +
            "OnUnitActiveSec=15s\n" +
            "AccuracySec=1s\n\n" +
            "[Install]\n" +
            "WantedBy=timers.target\n";
    }
}
