using System.Collections.Generic;
using BypassNat.Backends;
using BypassNat.Ssh;

namespace BypassNat.Main
{
    /// <summary>The main router's half in table ip bypassnat_main, replaced whole by one <c>nft -f -</c> transaction.</summary>
    public sealed class MainNftablesBackend : IRouterBackend
    {
        private const string Tools = "nft and conntrack";
        private readonly string _wanInterface;

        /// <param name="wanInterface">The WAN interface the rules should match on, to tell a moved WAN from a current one; null when only reading.</param>
        public MainNftablesBackend(string wanInterface = null) => _wanInterface = wanInterface;

        public BackendKind Kind => BackendKind.Nftables;

        public RouterState Read(RouterSession session)
        {
            string p = session.Privileged;
            string script = RouterScript.Preamble +
                "tables=$(" + p + "nft list tables 2>&1) || { echo \"$tables\" >&2; exit 4; }\n" +
                "if echo \"$tables\" | grep -qx 'table " + MainTable.Qualified + "'; then " + p + "nft -nn list table " + MainTable.Qualified + "; fi\n";
            CommandResult result = session.Run(script);
            if (!result.Succeeded) throw RouterScript.Failure(session, "read the nftables ruleset (nft list)", result, Tools);
            return MainNftablesReader.Read(result.Output, _wanInterface);
        }

        public int Write(RouterSession session, IReadOnlyList<BypassForward> desired, RenderContext context, RouterState current,
            IEnumerable<BypassForward> touched, out IReadOnlyList<string> warnings) =>
            RouterScript.RunWrite(session, NftLoad(session.Privileged, MainNftablesRenderer.Render(desired, context)), "nft -f",
                RouterScript.MainConntrackTargets(touched, context), Tools, out warnings);

        public void Remove(RouterSession session, RouterState current)
        {
            if (!current.Present) return;
            CommandResult result = RouterLock.Run(session, RouterScript.Wrap(NftLoad(session.Privileged, "delete table " + MainTable.Qualified + "\n")), "removing the main router's nftables table");
            if (!result.Succeeded) throw RouterScript.Failure(session, "delete table " + MainTable.Qualified + " (nft)", result, Tools);
        }

        internal static string NftLoad(string privileged, string ruleset) =>
            privileged + "nft -f - <<'BYPASSNAT_RULES' || exit 3\n" + ruleset + "BYPASSNAT_RULES\n";
    }
}
