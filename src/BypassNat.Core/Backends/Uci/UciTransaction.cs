using System.Collections.Generic;
using System.Linq;
using System.Text;
using BypassNat.Backends;

namespace BypassNat.Backends.Uci
{
    /// <summary>
    /// The router script that makes one batch take effect on an OpenWrt main router, as one step: refuse
    /// when the firewall config has someone else's uncommitted changes (a commit would apply them too),
    /// keep a copy of /etc/config/firewall, run the batch, commit, have firewall4 check and reload, and
    /// make sure firewall4 rendered every enabled BypassNat redirect. If anything after the commit
    /// fails, the copy goes back and firewall4 reloads it, so the router keeps its previous forwards.
    /// </summary>
    public static class UciTransaction
    {
        /// <summary>Nothing changed: the firewall config had uncommitted changes.</summary>
        public const int PendingChanges = 3;

        /// <summary>uci or firewall4 refused the change; the previous config is back and loaded.</summary>
        public const int RolledBack = 4;

        /// <summary>Refused, and reloading the restored previous config failed too.</summary>
        public const int RollbackFailed = 5;

        public static string Script(string p, string batch, IEnumerable<string> renderedNames)
        {
            var s = new StringBuilder();
            s.Append($"if [ -n \"$({p}uci -q changes firewall)\" ]; then\n");
            s.Append("  echo 'the firewall config has uncommitted changes (uci changes firewall), and a commit would apply them too: commit or revert them first' >&2\n");
            s.Append($"  exit {PendingChanges}\nfi\n");
            s.Append("backup=$(mktemp)\n");
            s.Append($"{p}cat /etc/config/firewall > \"$backup\" || {{ echo 'cannot copy /etc/config/firewall, so nothing was changed' >&2; exit 1; }}\n");
            s.Append("rollback() {\n");
            s.Append($"  {p}uci -q revert firewall || true\n");
            s.Append($"  {p}tee /etc/config/firewall.bypassnat-new < \"$backup\" >/dev/null && {p}mv -f /etc/config/firewall.bypassnat-new /etc/config/firewall\n");
            s.Append("  rm -f \"$backup\"\n");
            s.Append($"  if reloaded=$({p}fw4 reload 2>&1); then\n");
            s.Append($"    echo \"$1; rolled back: the previous firewall config is restored and loaded\" >&2; exit {RolledBack}\n");
            s.Append("  fi\n");
            s.Append($"  echo \"$1; the previous firewall config is restored, but firewall4 did not load it either ($reloaded): run fw4 reload on the router\" >&2; exit {RollbackFailed}\n");
            s.Append("}\n");
            s.Append($"refused=$({p}uci batch 2>&1 <<'BYPASSNAT_UCI'\n").Append(batch).Append("BYPASSNAT_UCI\n)\n");
            // uci batch goes on after a line it refuses; anything it printed is such a line.
            s.Append("[ -z \"$refused\" ] || rollback \"uci refused the batch ($refused)\"\n");
            s.Append($"{p}uci commit firewall || rollback 'uci commit firewall failed'\n");
            s.Append($"checked=$({p}fw4 check 2>&1) || rollback \"firewall4 refused the ruleset ($checked)\"\n");
            s.Append($"loaded=$({p}fw4 reload 2>&1) || rollback \"fw4 reload failed ($loaded)\"\n");
            // A section firewall4 cannot use (a zone that does not exist, say) is skipped with a warning,
            // not refused: each enabled redirect must be in the loaded ruleset, named by its comment.
            s.Append("ruleset=$(").Append(p).Append("nft list table inet fw4 2>&1) || rollback \"nft list table inet fw4 failed ($ruleset)\"\n");
            s.Append("missing=\n");
            s.Append("while read -r name; do\n");
            s.Append("  [ -n \"$name\" ] || continue\n");
            s.Append("  case $ruleset in *\"comment \\\"!fw4: $name\\\"\"*) ;; *) missing=\"$missing $name\" ;; esac\n");
            s.Append("done <<'BYPASSNAT_NAMES'\n");
            foreach (string name in renderedNames) s.Append(name).Append('\n');
            s.Append("BYPASSNAT_NAMES\n");
            s.Append("[ -z \"$missing\" ] || rollback \"firewall4 did not render the redirect(s)$missing ($(printf '%s\\n' \"$checked\" \"$loaded\" | grep bypassnat_ | sort -u | tr '\\n' ' '))\"\n");
            s.Append("rm -f \"$backup\"\n");
            // firewall4's remarks about BypassNat's sections reach the user as warnings.
            s.Append("printf '%s\\n' \"$checked\" \"$loaded\" | grep bypassnat_ | sort -u | sed 's/^/").Append(RouterScript.WarningPrefix).Append("/' >&2 || true\n");
            return RouterScript.Wrap(s.ToString());
        }
    }
}
