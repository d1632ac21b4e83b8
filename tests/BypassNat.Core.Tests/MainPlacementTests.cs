using System.Linq;
using System.Net;
using BypassNat.Backends;
using BypassNat.Validation;
using Xunit;

namespace BypassNat.Tests
{
    /// <summary>
    /// Where a set may go on the main router (<see cref="ForwardPlacement"/>): to a bypass router on one
    /// of its LANs, never to itself, and never taking the SSH port BypassNat came in on from the WAN.
    /// </summary>
    public class MainPlacementTests
    {
        private static readonly RouterAddresses Main = RouterAddresses.Parse(
            "2: lan0    inet 192.0.2.1/24 scope global lan0\\\n3: wan0    inet 203.0.113.1/24 scope global wan0\\\n--routes--\ndefault via 203.0.113.254 dev wan0\n");

        private static readonly RenderContext Context = Main.MainContext(null, "main");

        private static readonly IPAddress[] FromWan = { IPAddress.Parse("203.0.113.1") };

        [Fact]
        public void AForwardToTheMainRouterItselfIsRefusedNamingIt()
        {
            var set = new[] { Forwards.Make("web", "tcp", "8080"), Forwards.Make("self", "tcp", "8081", bypassAddress: "192.0.2.1") };

            ForwardIssue issue = Assert.Single(ForwardPlacement.Check(set, RouterRole.Main, Main, Context, "main"));

            Assert.Equal(("BypassNat.BypassAddressNotOnLan", 2, "BypassAddress", "192.0.2.1"), (issue.ErrorId, issue.Row, issue.Field, issue.Value));
            Assert.Contains("forward 'self' would send WAN port 8081 to the main router itself (192.0.2.1)", issue.Reason);
        }

        [Fact]
        public void AForwardOffEveryLanNamesTheLansAndTheWan()
        {
            ForwardIssue issue = Assert.Single(ForwardPlacement.Check(new[] { Forwards.Make("far", "tcp", "8081", bypassAddress: "198.51.100.7") }, RouterRole.Main, Main, Context, "main"));

            Assert.Equal(("BypassNat.BypassAddressNotOnLan", 1), (issue.ErrorId, issue.Row));
            Assert.Contains("sends WAN port 8081 to 198.51.100.7, which is on none of the LANs of the main router main (192.0.2.0/24; WAN wan0)", issue.Reason);
        }

        [Fact]
        public void OnlyATcpForwardOfTheSshPortFromTheWanLocksTheAdminOut()
        {
            var udp = Forwards.Make("dns", "udp", "22", bypassPort: "2222");
            var range = Forwards.Make("range", "tcp", "20-30", bypassPort: "2020-2030");
            var disabled = Forwards.Make("off", "tcp", "22", bypassPort: "2223", enabled: "false");

            var issues = ForwardPlacement.Check(new[] { udp, range, disabled }, RouterRole.Main, Main, Context, "main", FromWan, 22);

            ForwardIssue issue = Assert.Single(issues);
            Assert.Equal(("BypassNat.SshPortCapture", 2, "ExternalPort", "20-30"), (issue.ErrorId, issue.Row, issue.Field, issue.Value));
            Assert.Contains("it would send TCP port 22 arriving on the WAN, the SSH port BypassNat is using to reach main, to 192.0.2.2", issue.Reason);
            // Another SSH port, or no session address known: nothing to guard.
            Assert.Empty(ForwardPlacement.Check(new[] { range }, RouterRole.Main, Main, Context, "main", FromWan, 2222));
            Assert.Empty(ForwardPlacement.Check(new[] { range }, RouterRole.Main, Main, Context, "main", null, 22));
        }

        [Fact]
        public void ASessionToThePublicAddressComesInFromTheWanToo()
        {
            // Reached through a public address the WAN does not list (a 1:1 NAT in front of it).
            BypassForward ssh = Forwards.Make("ssh", "tcp", "22", bypassPort: "2222").WithPublicAddress(IPAddress.Parse("198.51.100.9"));

            Assert.Equal("BypassNat.SshPortCapture", Assert.Single(ForwardPlacement.Check(new[] { ssh }, RouterRole.Main, Main, Context, "main", new[] { IPAddress.Parse("198.51.100.9") }, 22)).ErrorId);
            Assert.Empty(ForwardPlacement.Check(new[] { ssh }, RouterRole.Main, Main, Context, "main", new[] { IPAddress.Parse("192.0.2.1") }, 22));
        }
    }
}
