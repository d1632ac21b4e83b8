using System.Collections.Generic;
using BypassNat.Backends;
using BypassNat.Nftables;
using BypassNat.Ssh;

namespace BypassNat.Main
{
    /// <summary>The main router's half in table ip bypassnat_main, replaced whole by one <c>nft -f -</c> transaction.</summary>
    public sealed class MainNftablesBackend : IScriptedBackend
    {
        private readonly string _wanInterface;

        /// <param name="wanInterface">The WAN interface the rules should match on, to tell a moved WAN from a current one; null when only reading.</param>
        public MainNftablesBackend(string wanInterface = null) => _wanInterface = wanInterface;

        public BackendKind Kind => BackendKind.Nftables;

        public string Tools => "nft and conntrack";

        public string LoadTool => "nft -f";

        public RouterState Read(RouterSession session) => ParseRead(RouterScript.RunRead(session, this, "read the nftables ruleset (nft list)"));

        public string ReadScript(string privileged) => NftablesBackend.ReadTableScript(privileged, MainTable.Qualified);

        public RouterState ParseRead(string output) => MainNftablesReader.Read(output, _wanInterface);

        public string LoadScript(string privileged, IReadOnlyList<BypassForward> desired, RenderContext context, RouterState current) =>
            NftLoad(privileged, MainNftablesRenderer.Render(desired, context));

        public string RemoveScript(string privileged, RouterState current) =>
            current.Present ? NftLoad(privileged, "delete table " + MainTable.Qualified + "\n") : null;

        public int Write(RouterSession session, IReadOnlyList<BypassForward> desired, RenderContext context, RouterState current,
            IEnumerable<BypassForward> touched, out IReadOnlyList<string> warnings) =>
            RouterScript.RunWrite(session, LoadScript(session.Privileged, desired, context, current), LoadTool,
                RouterScript.MainConntrackTargets(touched, context), Tools, out warnings);

        public void Remove(RouterSession session, RouterState current)
        {
            if (!current.Present) return;
            CommandResult result = RouterLock.Run(session, RouterScript.Wrap(RemoveScript(session.Privileged, current)), "removing the main router's nftables table");
            if (!result.Succeeded) throw RouterScript.Failure(session, "delete table " + MainTable.Qualified + " (nft)", result, Tools);
        }

        internal static string NftLoad(string privileged, string ruleset) =>
            privileged + "nft -f - <<'BYPASSNAT_RULES' || exit 3\n" + ruleset + "BYPASSNAT_RULES\n";
    }
}
