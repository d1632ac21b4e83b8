using System.Collections.Generic;
using System.Text;
using BypassNat.Backends;
using BypassNat.Ssh;

namespace BypassNat.Backends.Nftables
{
    /// <summary>
    /// Keeps forwards in BypassNat's own nftables table, replaced whole by one <c>nft -f -</c>
    /// transaction. Every other table is left alone, and the proxy's <c>iptables -t nat -F</c> does not
    /// reach it.
    /// </summary>
    public sealed class NftablesBackend : ShellBackend
    {
        public NftablesBackend(RouterSession session = null) : base(session)
        {
        }

        public override string Tools => "nft and conntrack";

        public override string LoadTool => "nft -f";

        public override BackendKind Kind => BackendKind.Nftables;

        public override string SavedFile => "ruleset.nft";

        public override bool FirewallIncludesSavedFile => true;

        public override string ListingTool => "nft";

        public override string ProbeFact => "nft";

        public override bool Owns(RouterState state) => state.Present;

        protected override string ReadStep => "read the nftables ruleset (nft list)";

        protected override string RemoveStep => "removing the nftables table";

        protected override string RemoveWhat => "delete table ip bypassnat (nft)";

        // A missing table is normal, a refused listing is an error: when the listing fails, ask again
        // for the error alone. (Not nft list tables first: it fetches the whole ruleset, seconds on a
        // router with many iptables-nft rules.)
        public override string ReadScript(string privileged) => ReadTableScript(privileged, NftablesTable.Qualified);

        /// <summary>Prints the table <paramref name="table"/> ("ip name"); nothing when it is absent, exit 4 when nft refuses.</summary>
        internal static string ReadTableScript(string privileged, string table) =>
            "LC_ALL=C " + privileged + "nft -nn list table " + table + " 2>/dev/null && exit 0\n" +
            "nft_error=$(LC_ALL=C " + privileged + "nft list table " + table + " 2>&1 >/dev/null) && exit 0\n" +
            "case \"$nft_error\" in (*'No such file or directory'*) exit 0 ;; esac\n" +
            "echo \"$nft_error\" >&2\n" +
            "exit 4\n";

        public override RouterState ParseRead(string output) => NftablesReader.Read(output);

        public override string LoadScript(string privileged, IReadOnlyList<BypassForward> desired, RenderContext context, RouterState current) =>
            Load(privileged, NftablesRenderer.Render(desired, context));

        public override string RemoveScript(string privileged, RouterState current) =>
            current.Present ? Load(privileged, "delete table " + NftablesTable.Qualified + "\n") : null;

        public override string RenderSaved(IReadOnlyList<BypassForward> forwards, RenderContext context) => NftablesRenderer.Render(forwards, context);

        public override string RollbackScript(string privileged, RouterState previous, RenderContext context) =>
            Rollback(privileged, NftablesTable.Qualified, previous.Present ? RenderSaved(previous.Forwards, context) : null);

        public override IReadOnlyList<string> ConntrackTargets(IEnumerable<BypassForward> touched, RenderContext context) =>
            RouterScript.BypassConntrackTargets(touched);

        public string RenderRuleset(IEnumerable<BypassForward> forwards) => NftablesRenderer.Render(forwards);

        internal static string Load(string privileged, string ruleset)
        {
            var script = new StringBuilder();
            script.Append(privileged).Append("nft -f - <<'BYPASSNAT_RULES' || exit 3\n");
            script.Append(ruleset);
            script.Append("BYPASSNAT_RULES\n");
            return script.ToString();
        }

        /// <summary>Puts the table <paramref name="table"/> back to <paramref name="ruleset"/>, or deletes it when null.</summary>
        internal static string Rollback(string p, string table, string ruleset) =>
            p + "nft -f - <<'BYPASSNAT_RULES'\n" + (ruleset ?? $"table {table}\ndelete table {table}\n") + "BYPASSNAT_RULES\n";
    }
}
