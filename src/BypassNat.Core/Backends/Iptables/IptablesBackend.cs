using System.Collections.Generic;
using System.Text;
using BypassNat.Backends;
using BypassNat.Ssh;

namespace BypassNat.Backends.Iptables
{
    /// <summary>Reads and writes BypassNat's nat chains with iptables-save / iptables-restore.</summary>
    public sealed class IptablesBackend : ShellBackend
    {
        public IptablesBackend(RouterSession session = null) : base(session)
        {
        }

        public override string Tools => "iptables-save, iptables-restore and conntrack";

        public override string LoadTool => "iptables-restore";

        public override BackendKind Kind => BackendKind.Iptables;

        public override string SavedFile => "ruleset.iptables";

        public override bool FirewallIncludesSavedFile => false;

        public override string ListingTool => "iptables-save";

        public override string ProbeFact => "iptables";

        // As the probe's own test: the hop's prerouting chain exists.
        public override bool Owns(RouterState state) => ((IptablesState)state).HasPreroutingChain;

        protected override string ReadStep => "read the nat table (iptables-save -t nat)";

        protected override string RemoveStep => "removing the iptables rules";

        protected override string RemoveWhat => "remove BypassNat's chains (iptables-restore); nothing was removed";

        public override string ReadScript(string privileged) => privileged + "iptables-save -t nat\n";

        public override RouterState ParseRead(string output) => IptablesReader.Read(output);

        public override string LoadScript(string privileged, IReadOnlyList<BypassForward> desired, RenderContext context, RouterState current) =>
            Restore(privileged, IptablesRenderer.RenderRestore(desired, ((IptablesState)current).Jumps, context));

        public override string RemoveScript(string privileged, RouterState current) =>
            current.Present ? Restore(privileged, IptablesRenderer.RenderRemoval((IptablesState)current)) : null;

        public override string RenderSaved(IReadOnlyList<BypassForward> forwards, RenderContext context) =>
            IptablesRenderer.RenderChains(forwards, Hooked, context);

        public override string RollbackScript(string privileged, RouterState previous, RenderContext context) =>
            Rollback(privileged, IptablesChains.Prerouting, IptablesChains.Postrouting, previous.Present ? RenderSaved(previous.Forwards, context) : null);

        public override IReadOnlyList<string> ConntrackTargets(IEnumerable<BypassForward> touched, RenderContext context) =>
            RouterScript.BypassConntrackTargets(touched);

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
        internal static string Rollback(string p, string pre, string post, string chains)
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
