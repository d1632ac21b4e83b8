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
    public sealed class NftablesBackend : IRouterBackend
    {
        private const string Tools = "nft and conntrack";

        public BackendKind Kind => BackendKind.Nftables;

        public RouterState Read(RouterSession session)
        {
            // List the tables first: a missing table is normal, but a refused listing is an error.
            string script = RouterScript.Preamble +
                "tables=$(" + session.Privileged + "nft list tables 2>&1) || { echo \"$tables\" >&2; exit 4; }\n" +
                "if echo \"$tables\" | grep -qx 'table " + NftablesTable.Qualified + "'; then " + session.Privileged + "nft -nn list table " + NftablesTable.Qualified + "; fi\n";
            CommandResult result = session.Run(script);
            if (!result.Succeeded) throw RouterScript.Failure(session, "read the nftables ruleset (nft list)", result, Tools);
            return NftablesReader.Read(result.Output);
        }

        public int Write(RouterSession session, IReadOnlyList<BypassForward> desired, RenderContext context, RouterState current,
            IEnumerable<BypassForward> touched, out IReadOnlyList<string> warnings)
        {
            return RouterScript.RunWrite(session, Load(session.Privileged, NftablesRenderer.Render(desired, context)), "nft -f", touched, Tools, out warnings);
        }

        public void Remove(RouterSession session, RouterState current)
        {
            if (!current.Present) return;
            CommandResult result = session.Run(RouterScript.Wrap(Load(session.Privileged, "delete table " + NftablesTable.Qualified + "\n")));
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
