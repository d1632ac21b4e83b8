using System.Linq;
using BypassNat.Backends.Iptables;
using Xunit;

namespace BypassNat.Tests
{
    public class IptablesRendererTests
    {
        private static BypassForward[] ExampleSet() => new[]
        {
            Forwards.Make("web", "tcp", "8080", internalPort: "80", comment: "NAS web UI"),
            Forwards.Make("game", "udp", "9000"),
            Forwards.Make("voip", "tcpudp", "9001-9003", bypassPort: "19001-19003", internalPort: "9001-9003"),
            Forwards.Make("same", "tcp", "7000-7002"),
            Forwards.Make("far", "tcp", "2222", internalAddress: "198.51.100.7", internalPort: "22", sourceNat: "true"),
            Forwards.Make("off", "tcp", "5000", enabled: "false"),
        };

        [Fact]
        public void RendersTheRestoreTransaction() =>
            Assert.Equal(Golden.Read("example.iptables-restore"), IptablesRenderer.RenderRestore(Golden.ExampleSet(), new IptablesJumpRepair(), Golden.Lan()));

        [Fact]
        public void AddsNoJumpWhereTheRouterHasItFirst()
        {
            var jumps = new IptablesJumpRepair { PreroutingJumps = 1, PreroutingJumpFirst = true, PostroutingJumps = 1, PostroutingJumpFirst = true };
            string text = IptablesRenderer.RenderRestore(ExampleSet(), jumps);
            Assert.DoesNotContain("PREROUTING 1", text);
            Assert.DoesNotContain("-D ", text);
        }

        [Fact]
        public void MovesAJumpThatIsNotFirstAndRemovesDuplicates()
        {
            var jumps = new IptablesJumpRepair { PreroutingJumps = 2, PreroutingJumpFirst = true, PostroutingJumps = 1, PostroutingJumpFirst = false };
            string[] lines = IptablesRenderer.RenderRestore(ExampleSet(), jumps).Split('\n');
            Assert.Equal(2, lines.Count(l => l == "-D PREROUTING -j BYPASSNAT_PREROUTING"));
            Assert.Single(lines, l => l == "-D POSTROUTING -j BYPASSNAT_POSTROUTING");
            Assert.Single(lines, l => l == "-I PREROUTING 1 -j BYPASSNAT_PREROUTING");
            Assert.Single(lines, l => l == "-I POSTROUTING 1 -j BYPASSNAT_POSTROUTING");
        }

        [Fact]
        public void TheRouterScriptKeepsRulesInAQuotedHereDocumentAndForgetsOnlyTouchedPorts()
        {
            BypassForward[] set = ExampleSet();
            string script = BypassNat.Backends.RouterScript.Wrap(IptablesBackend.Restore("sudo -n ", IptablesRenderer.RenderRestore(set, new IptablesJumpRepair()))
                + BypassNat.Backends.RouterScript.ForgetConntrack("sudo -n ", new[] { set[1], set[2] }));
            Assert.StartsWith("{\n", script);
            Assert.Contains("sudo -n iptables-restore --noflush --wait 10 <<'BYPASSNAT_RULES' || exit 3\n*nat\n", script);
            // The touched ports travel in a here-document to awk, one line per protocol, address and range.
            Assert.Contains("<<'BYPASSNAT_PORTS'\ntcp 192.0.2.2 19001 19003\nudp 192.0.2.2 9000 9000\nudp 192.0.2.2 19001 19003\nBYPASSNAT_PORTS\n", script);
            Assert.DoesNotContain("tcp 192.0.2.2 8080", script);
            Assert.Contains("sudo -n conntrack -L", script);
            Assert.Contains("sudo -n conntrack -D", script);
            Assert.EndsWith("}\n", script);
        }
    }
}
