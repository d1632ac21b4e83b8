using System.Collections.Generic;
using System.Linq;
using BypassNat.Backends;
using BypassNat.Backends.Iptables;
using BypassNat.Backends.Nftables;
using CsCheck;
using Xunit;
using BypassNat.Validation;

namespace BypassNat.Tests.Properties
{
    /// <summary>
    /// Any valid forward set renders to a ruleset the real kernel accepts, and what the kernel then
    /// lists reads back as exactly that set: on both backends, in a network namespace of the test's own.
    /// </summary>
    public class KernelRoundTripTests
    {
        private const int Sets = 120;

        private static readonly RenderContext Lan = new RenderContext(new[] { new Ipv4Prefix(System.Net.IPAddress.Parse("192.0.2.0"), 24) });

        [SkippableFact]
        public void NftablesLoadsAndReadsBackEverySet()
        {
            string why = ScratchNamespace.Unavailable("nft");
            Skip.If(why != null, why);
            int states = 0;
            using (ScratchNamespace scratch = ScratchNamespace.Create())
            {
                ForwardSetGen.Set.Sample(set =>
                {
                    Assert.Empty(ForwardSetValidator.Check(set));
                    var load = scratch.Run(NftablesRenderer.Render(set, Lan), "nft", "-f", "-");
                    Assert.True(load.ExitCode == 0, "nft refused the rendering: " + load.Error);
                    var listing = scratch.Run(null, "nft", "-nn", "list", "table", NftablesTable.Qualified);
                    Assert.True(listing.ExitCode == 0, listing.Error);
                    AssertSame(set, NftablesReader.Read(listing.Output));
                    states++;
                }, iter: Sets, threads: 1, print: Describe);
            }

            TestCounts.Record($"nftables kernel round trip: {states} random forward sets loaded and read back equal");
        }

        [SkippableFact]
        public void IptablesLoadsAndReadsBackEverySet()
        {
            string why = ScratchNamespace.Unavailable("iptables-restore", "iptables-save");
            Skip.If(why != null, why);
            int states = 0;
            using (ScratchNamespace scratch = ScratchNamespace.Create())
            {
                ForwardSetGen.Set.Sample(set =>
                {
                    Assert.Empty(ForwardSetValidator.Check(set));
                    IptablesState before = IptablesReader.Read(scratch.Run(null, "iptables-save", "-t", "nat").Output);
                    var load = scratch.Run(IptablesRenderer.RenderRestore(set, before.Jumps, Lan), "iptables-restore", "--noflush");
                    Assert.True(load.ExitCode == 0, "iptables-restore refused the rendering: " + load.Error);
                    var save = scratch.Run(null, "iptables-save", "-t", "nat");
                    Assert.True(save.ExitCode == 0, save.Error);
                    AssertSame(set, IptablesReader.Read(save.Output));
                    states++;
                }, iter: Sets, threads: 1, print: Describe);
            }

            TestCounts.Record($"iptables kernel round trip: {states} random forward sets loaded and read back equal");
        }

        private static readonly RenderContext MainLan = new RenderContext(Lan.LanPrefixes, "wan0");

        [SkippableFact]
        public void MainHopNftablesLoadsAndReadsBackEverySet()
        {
            string why = ScratchNamespace.Unavailable("nft");
            Skip.If(why != null, why);
            int states = 0;
            using (ScratchNamespace scratch = ScratchNamespace.Create())
            {
                ForwardSetGen.Set.Sample(set =>
                {
                    var load = scratch.Run(MainNftablesRenderer.Render(set, MainLan), "nft", "-f", "-");
                    Assert.True(load.ExitCode == 0, "nft refused the main hop's rendering: " + load.Error);
                    var listing = scratch.Run(null, "nft", "-nn", "list", "table", MainTable.Qualified);
                    Assert.True(listing.ExitCode == 0, listing.Error);
                    AssertSame(set.Select(MainHop.Project).ToList(), MainNftablesReader.Read(listing.Output, "wan0"));
                    states++;
                }, iter: Sets / 2, threads: 1, print: Describe);
            }

            TestCounts.Record($"main hop nftables kernel round trip: {states} random forward sets loaded and read back equal");
        }

        [SkippableFact]
        public void MainHopIptablesLoadsAndReadsBackEverySet()
        {
            string why = ScratchNamespace.Unavailable("iptables-restore", "iptables-save");
            Skip.If(why != null, why);
            int states = 0;
            using (ScratchNamespace scratch = ScratchNamespace.Create())
            {
                ForwardSetGen.Set.Sample(set =>
                {
                    MainIptablesState before = MainIptablesReader.Read(scratch.Run(null, "iptables-save", "-t", "nat").Output);
                    var load = scratch.Run(MainIptablesRenderer.RenderRestore(set, before.Jumps, MainLan), "iptables-restore", "--noflush");
                    Assert.True(load.ExitCode == 0, "iptables-restore refused the main hop's rendering: " + load.Error);
                    var save = scratch.Run(null, "iptables-save", "-t", "nat");
                    Assert.True(save.ExitCode == 0, save.Error);
                    AssertSame(set.Select(MainHop.Project).ToList(), MainIptablesReader.Read(save.Output, "wan0"));
                    states++;
                }, iter: Sets / 2, threads: 1, print: Describe);
            }

            TestCounts.Record($"main hop iptables kernel round trip: {states} random forward sets loaded and read back equal");
        }

        private static void AssertSame(IReadOnlyList<BypassForward> desired, RouterState read)
        {
            Assert.Empty(read.Problems);
            Assert.True(read.InPlace, "the rules are not hooked in: " + read.Repair);
            List<BypassForward> enabled = desired.Where(f => f.Enabled).ToList();
            Assert.Equal(enabled.Select(f => f.Name).OrderBy(n => n), read.Forwards.Select(f => f.Name).OrderBy(n => n));
            foreach (BypassForward forward in enabled)
            {
                BypassForward back = read.Forwards.Single(f => f.Name == forward.Name);
                Assert.True(forward.DifferingFields(back).Count == 0,
                    $"{forward.Name} read back different in {string.Join(", ", forward.DifferingFields(back))}: wrote {forward}, read {back}");
            }
        }

        private static string Describe(List<BypassForward> set) =>
            string.Join("\n", set.Select(f => $"{f} sourceNat={f.SourceNat} enabled={f.Enabled} public={f.PublicAddress} from='{f.AllowedSource}' comment='{f.Comment}'"));
    }
}
