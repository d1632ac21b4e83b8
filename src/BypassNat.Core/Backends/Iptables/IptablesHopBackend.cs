using System.Collections.Generic;
using System.Text;
using BypassNat.Ssh;

namespace BypassNat.Backends.Iptables
{
    /// <summary>
    /// One hop's forwards in two nat chains of BypassNat's own, jumped to first from PREROUTING and
    /// POSTROUTING, read with iptables-save and written with iptables-restore --noflush: everything
    /// the two hops do alike in iptables. A hop adds its chains, its renderer and reader, and which
    /// flows a change touches.
    /// </summary>
    public abstract class IptablesHopBackend : ShellBackend
    {
        private readonly string _prerouting;
        private readonly string _postrouting;

        protected IptablesHopBackend(RouterSession session, string prerouting, string postrouting) : base(session)
        {
            _prerouting = prerouting;
            _postrouting = postrouting;
        }

        public override BackendKind Kind => BackendKind.Iptables;

        public override string Tools => "iptables-save, iptables-restore and conntrack";

        public override string LoadTool => "iptables-restore";

        public override string SavedFile => "ruleset.iptables";

        public override bool FirewallIncludesSavedFile => false;

        public override string ListingTool => "iptables-save";

        public override string ProbeFact => "iptables";

        protected override string ReadStep => "read the nat table (iptables-save -t nat)";

        public override string ReadScript(string privileged) => privileged + "iptables-save -t nat\n";

        public override string RollbackScript(string privileged, RouterState previous, RenderContext context) =>
            Rollback(privileged, _prerouting, _postrouting, previous.Present ? RenderSaved(previous.Forwards, context) : null);

        /// <summary>Each jump once, first in its built-in chain: how a saved set and a rollback hook the chains in.</summary>
        internal static IptablesJumpRepair Hooked => new IptablesJumpRepair { PreroutingJumps = 1, PreroutingJumpFirst = true, PostroutingJumps = 1, PostroutingJumpFirst = true };

        /// <summary>iptables-restore with the transaction in a quoted here-document; exit 3 when the kernel refuses it.</summary>
        internal static string Restore(string privileged, string restore)
        {
            var script = new StringBuilder();
            script.Append(privileged).Append("iptables-restore --noflush --wait 10 <<'BYPASSNAT_RULES' || exit 3\n");
            script.Append(restore);
            script.Append("BYPASSNAT_RULES\n");
            return script.ToString();
        }

        /// <summary>
        /// Puts a hop's chains back to <paramref name="chains"/> (with a jump only where the router lacks
        /// one), or removes them and their jumps when null. Only iptables-save and iptables-restore,
        /// the tools a sudo login may already run.
        /// </summary>
        private static string Rollback(string p, string pre, string post, string chains)
        {
            var s = new StringBuilder();
            s.Append("rules=$(").Append(p).Append("iptables-save -t nat) || exit 1\n");
            s.Append("{\n");
            if (chains != null)
            {
                s.Append("  cat <<'BYPASSNAT_RULES'\n").Append(chains).Append("BYPASSNAT_RULES\n");
                s.Append($"  printf '%s\\n' \"$rules\" | grep -qx -- '-A PREROUTING -j {pre}' || echo '-I PREROUTING 1 -j {pre}'\n");
                s.Append($"  printf '%s\\n' \"$rules\" | grep -qx -- '-A POSTROUTING -j {post}' || echo '-I POSTROUTING 1 -j {post}'\n");
            }
            else
            {
                s.Append("  echo '*nat'\n");
                s.Append($"  printf '%s\\n' \"$rules\" | grep -x -- '-A PREROUTING -j {pre}' | sed 's/^-A/-D/'\n");
                s.Append($"  printf '%s\\n' \"$rules\" | grep -x -- '-A POSTROUTING -j {post}' | sed 's/^-A/-D/'\n");
                foreach (string chain in new[] { pre, post })
                    s.Append($"  if printf '%s\\n' \"$rules\" | grep -q '^:{chain} '; then printf -- '-F {chain}\\n-X {chain}\\n'; fi\n");
            }

            s.Append("  echo COMMIT\n");
            s.Append("} | ").Append(p).Append("iptables-restore --noflush --wait 10\n");
            return s.ToString();
        }
    }
}
