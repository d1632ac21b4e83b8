using System.Collections.Generic;
using System.Text;
using BypassNat.Backends;
using BypassNat.Ssh;

namespace BypassNat.Nftables
{
    /// <summary>
    /// Keeps forwards in BypassNat's own nftables table, replaced whole by one <c>nft -f -</c>
    /// transaction. Every other table is left alone, and the proxy's <c>iptables -t nat -F</c> does not
    /// reach it.
    /// </summary>
    public sealed class NftablesBackend : IScriptedBackend
    {
        public string Tools => "nft and conntrack";

        public string LoadTool => "nft -f";

        public BackendKind Kind => BackendKind.Nftables;

        public RouterState Read(RouterSession session) => ParseRead(RouterScript.RunRead(session, this, "read the nftables ruleset (nft list)"));

        // A missing table is normal, a refused listing is an error: when the listing fails, ask again
        // for the error alone. (Not nft list tables first: it fetches the whole ruleset, seconds on a
        // router with many iptables-nft rules.)
        public string ReadScript(string privileged) => ReadTableScript(privileged, NftablesTable.Qualified);

        /// <summary>Prints the table <paramref name="table"/> ("ip name"); nothing when it is absent, exit 4 when nft refuses.</summary>
        internal static string ReadTableScript(string privileged, string table) =>
            "LC_ALL=C " + privileged + "nft -nn list table " + table + " 2>/dev/null && exit 0\n" +
            "nft_error=$(LC_ALL=C " + privileged + "nft list table " + table + " 2>&1 >/dev/null) && exit 0\n" +
            "case \"$nft_error\" in (*'No such file or directory'*) exit 0 ;; esac\n" +
            "echo \"$nft_error\" >&2\n" +
            "exit 4\n";

        public RouterState ParseRead(string output) => NftablesReader.Read(output);

        public string LoadScript(string privileged, IReadOnlyList<BypassForward> desired, RenderContext context, RouterState current) =>
            Load(privileged, NftablesRenderer.Render(desired, context));

        public int Write(RouterSession session, IReadOnlyList<BypassForward> desired, RenderContext context, RouterState current,
            IEnumerable<BypassForward> touched, out IReadOnlyList<string> warnings)
        {
            return RouterScript.RunWrite(session, LoadScript(session.Privileged, desired, context, current), LoadTool, touched, Tools, out warnings);
        }

        public string RemoveScript(string privileged, RouterState current) =>
            current.Present ? Load(privileged, "delete table " + NftablesTable.Qualified + "\n") : null;

        public void Remove(RouterSession session, RouterState current)
        {
            if (!current.Present) return;
            CommandResult result = RouterLock.Run(session, RouterScript.Wrap(RemoveScript(session.Privileged, current)), "removing the nftables table");
            if (!result.Succeeded) throw RouterScript.Failure(session, "delete table ip bypassnat (nft)", result, Tools);
        }

        public string RenderRuleset(IEnumerable<BypassForward> forwards) => NftablesRenderer.Render(forwards);

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
