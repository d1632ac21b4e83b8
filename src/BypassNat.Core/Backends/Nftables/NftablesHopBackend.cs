using System.Collections.Generic;
using System.Text;
using BypassNat.Ssh;

namespace BypassNat.Backends.Nftables
{
    /// <summary>
    /// One hop's forwards in a table of BypassNat's own, replaced whole by one <c>nft -f -</c>
    /// transaction: everything the two hops do alike in nftables. A hop adds its table, its renderer and
    /// reader, and which flows a change touches.
    /// </summary>
    public abstract class NftablesHopBackend : ShellBackend
    {
        private readonly string _table;

        protected NftablesHopBackend(RouterSession session, string table) : base(session) => _table = table;

        public override BackendKind Kind => BackendKind.Nftables;

        public override string Tools => "nft and conntrack";

        public override string LoadTool => "nft -f";

        public override string SavedFile => "ruleset.nft";

        public override bool FirewallIncludesSavedFile => true;

        public override string ListingTool => "nft";

        public override string ProbeFact => "nft";

        public override bool Owns(RouterState state) => state.Present;

        protected override string ReadStep => "read the nftables ruleset (nft list)";

        protected override string RemoveWhat => "delete table " + _table + " (nft)";

        /// <summary>The whole table for <paramref name="forwards"/>, as <c>nft -f</c> loads it.</summary>
        protected abstract string Render(IReadOnlyList<BypassForward> forwards, RenderContext context);

        // A missing table is normal, a refused listing is an error: when the listing fails, ask again
        // for the error alone. (Not nft list tables first: it fetches the whole ruleset, seconds on a
        // router with many iptables-nft rules.)
        public override string ReadScript(string privileged) =>
            "LC_ALL=C " + privileged + "nft -nn list table " + _table + " 2>/dev/null && exit 0\n" +
            "nft_error=$(LC_ALL=C " + privileged + "nft list table " + _table + " 2>&1 >/dev/null) && exit 0\n" +
            "case \"$nft_error\" in (*'No such file or directory'*) exit 0 ;; esac\n" +
            "echo \"$nft_error\" >&2\n" +
            "exit 4\n";

        public override string LoadScript(string privileged, IReadOnlyList<BypassForward> desired, RenderContext context, RouterState current) =>
            Load(privileged, Render(desired, context));

        public override string RemoveScript(string privileged, RouterState current) =>
            current.Present ? Load(privileged, "delete table " + _table + "\n") : null;

        public override string RenderSaved(IReadOnlyList<BypassForward> forwards, RenderContext context) => Render(forwards, context);

        // Puts the table back to what it held, or deletes it ("table" first: deleting a table that is gone fails).
        public override string RollbackScript(string privileged, RouterState previous, RenderContext context) =>
            privileged + "nft -f - <<'BYPASSNAT_RULES'\n" +
            (previous.Present ? RenderSaved(previous.Forwards, context) : $"table {_table}\ndelete table {_table}\n") + "BYPASSNAT_RULES\n";

        private static string Load(string privileged, string ruleset)
        {
            var script = new StringBuilder();
            script.Append(privileged).Append("nft -f - <<'BYPASSNAT_RULES' || exit 3\n");
            script.Append(ruleset);
            script.Append("BYPASSNAT_RULES\n");
            return script.ToString();
        }
    }
}
