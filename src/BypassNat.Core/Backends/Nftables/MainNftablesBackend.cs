using System.Collections.Generic;
using BypassNat.Backends;
using BypassNat.Ssh;

namespace BypassNat.Backends.Nftables
{
    /// <summary>The main router's half in table ip bypassnat_main, replaced whole by one <c>nft -f -</c> transaction.</summary>
    public sealed class MainNftablesBackend : ShellBackend
    {
        private readonly string _wanInterface;

        /// <param name="wanInterface">The WAN interface the rules should match on, to tell a moved WAN from a current one; null when only reading.</param>
        public MainNftablesBackend(RouterSession session = null, string wanInterface = null) : base(session) => _wanInterface = wanInterface;

        public override BackendKind Kind => BackendKind.Nftables;

        public override string Tools => "nft and conntrack";

        public override string LoadTool => "nft -f";

        public override string SavedFile => "ruleset.nft";

        public override bool FirewallIncludesSavedFile => true;

        public override string ListingTool => "nft";

        public override string ProbeFact => "nft";

        public override bool Owns(RouterState state) => state.Present;

        protected override string ReadStep => "read the nftables ruleset (nft list)";

        protected override string RemoveStep => "removing the main router's nftables table";

        protected override string RemoveWhat => "delete table " + MainTable.Qualified + " (nft)";

        public override string ReadScript(string privileged) => NftablesBackend.ReadTableScript(privileged, MainTable.Qualified);

        public override RouterState ParseRead(string output) => MainNftablesReader.Read(output, _wanInterface);

        public override string LoadScript(string privileged, IReadOnlyList<BypassForward> desired, RenderContext context, RouterState current) =>
            NftablesBackend.Load(privileged, MainNftablesRenderer.Render(desired, context));

        public override string RemoveScript(string privileged, RouterState current) =>
            current.Present ? NftablesBackend.Load(privileged, "delete table " + MainTable.Qualified + "\n") : null;

        public override string RenderSaved(IReadOnlyList<BypassForward> forwards, RenderContext context) => MainNftablesRenderer.Render(forwards, context);

        public override string RollbackScript(string privileged, RouterState previous, RenderContext context) =>
            NftablesBackend.Rollback(privileged, MainTable.Qualified, previous.Present ? RenderSaved(previous.Forwards, context) : null);

        public override IReadOnlyList<string> ConntrackTargets(IEnumerable<BypassForward> touched, RenderContext context) =>
            RouterScript.MainConntrackTargets(touched, context);
    }
}
