using System.Collections.Generic;
using System.Linq;
using System.Net;
using Xunit;
using BypassNat.Validation;

namespace BypassNat.Tests
{
    /// <summary>
    /// The set check on the shapes of input that once made it quadratic (tests/bench measures their
    /// time and memory): what it finds on each, and on which rows.
    /// </summary>
    public class ForwardSetShapeTests
    {
        private const string More = "; more earlier rows conflict with this one too";

        [Fact]
        public void ManyPublicPortsToOneDevicePortAreOneValidSet()
        {
            var forwards = Enumerable.Range(0, 20_000)
                .Select(i => Forwards.Make($"p{i}", "tcp", (10_000 + i).ToString(), internalPort: "8080")).ToList();

            Assert.Empty(ForwardSetValidator.Check(forwards));

            // One more to the same device port through another bypass address: the first three are named.
            forwards.Add(Forwards.Make("other", "tcp", "9000", internalPort: "8080", bypassAddress: "192.0.2.3"));
            IReadOnlyList<ForwardIssue> issues = ForwardSetValidator.Check(forwards);
            Assert.Equal(3, issues.Count);
            Assert.All(issues, i => Assert.Equal((20_001, "BypassAddress", "192.0.2.3"), (i.Row, i.Field, i.Value)));
            Assert.Contains("TCP port 8080 of 192.0.2.20 is also reached through 192.0.2.2 by 'p0' (row 1)", issues[0].Reason);
            Assert.Contains("by 'p1' (row 2)", issues[1].Reason);
            Assert.EndsWith("by 'p2' (row 3); the router can answer for a device's port through one bypass address only" + More, issues[2].Reason);
        }

        [Fact]
        public void DevicePortsAlternatingBetweenTwoBypassAddressesNameTheFirstRowsOfTheOther()
        {
            var forwards = Enumerable.Range(0, 2_000)
                .Select(i => Forwards.Make($"p{i}", "tcp", (10_000 + i).ToString(), internalPort: "8080", bypassAddress: i % 2 == 0 ? "192.0.2.2" : "192.0.2.3")).ToList();

            IReadOnlyList<ForwardIssue> issues = ForwardSetValidator.Check(forwards);

            // Row 2 conflicts with row 1; row 3 with row 2; every later row with the first three rows of the other address.
            Assert.Equal(new[] { "(row 1)" }, Earlier(issues, 2));
            Assert.Equal(new[] { "(row 2)" }, Earlier(issues, 3));
            Assert.Equal(new[] { "(row 1)", "(row 3)", "(row 5)" }, Earlier(issues, 2_000));
            Assert.Equal(new[] { "(row 2)", "(row 4)", "(row 6)" }, Earlier(issues, 1_999));
            Assert.Equal(1 + 1 + 2 + 2 + 3 * (2_000 - 5), issues.Count);
        }

        [Fact]
        public void OnePortOnEveryRowNamesTheFirstThreeRowsOnEachLaterRow()
        {
            var forwards = Enumerable.Range(0, 5_000).Select(i => Forwards.Make($"r{i}", "udp", "5353", internalAddress: $"192.0.2.{20 + i % 200}")).ToList();

            IReadOnlyList<ForwardIssue> issues = ForwardSetValidator.Check(forwards);

            Assert.DoesNotContain(issues, i => i.Row == 1);
            Assert.Equal(new[] { "(row 1)" }, Earlier(issues, 2));
            Assert.Equal(new[] { "(row 1)", "(row 2)", "(row 3)" }, Earlier(issues, 4));
            Assert.Equal(new[] { "(row 1)", "(row 2)", "(row 3)" }, Earlier(issues, 5_000));
            Assert.DoesNotContain(issues.Where(i => i.Row == 4), i => i.Reason.EndsWith(More));
            Assert.EndsWith("(row 3)" + More, issues.Last(i => i.Row == 5).Reason);
            Assert.Equal(1 + 2 + 3 * (5_000 - 3), issues.Count);
            // No BypassPort column in such a CSV: the conflict names the ExternalPort the user wrote.
            Assert.All(issues, i => Assert.Equal(("BypassNat.PortConflict", "ExternalPort", "5353"), (i.ErrorId, i.Field, i.Value)));
            Assert.Contains("UDP port 5353 on 192.0.2.2 is already forwarded by 'r0' (row 1)", issues[0].Reason);
        }

        [Fact]
        public void OneBypassPortOnManyBypassAddressesIsFineWithItsOwnExternalPorts()
        {
            var forwards = Enumerable.Range(0, 250)
                .Select(i => Forwards.Make($"a{i}", "tcp", (20_000 + i).ToString(), bypassPort: "443", bypassAddress: $"192.0.2.{i + 1}", internalAddress: $"198.51.100.{i + 1}")).ToList();
            Assert.Empty(ForwardSetValidator.Check(forwards));
        }

        [Fact]
        public void OneExternalPortOnManyBypassAddressesIsRefusedForTheMainRouter()
        {
            var forwards = Enumerable.Range(0, 250)
                .Select(i => Forwards.Make($"a{i}", "tcp", "443", bypassAddress: $"198.51.100.{i + 1}", internalAddress: $"203.0.113.{i + 1}")).ToList();

            IReadOnlyList<ForwardIssue> issues = ForwardSetValidator.Check(forwards);

            Assert.Equal(1 + 2 + 3 * (250 - 3), issues.Count);
            Assert.Equal(("ExternalPort", "443"), (issues[0].Field, issues[0].Value));
            Assert.StartsWith("TCP port 443 on the main router's WAN is already forwarded by 'a0' (row 1)", issues[0].Reason);
        }

        [Fact]
        public void OverlappingRangesNameTheEarliestRowsTheyOverlap()
        {
            // Row j holds ports 10j to 10j+100 (each on its own device): it overlaps rows j-10 to j+10.
            var forwards = Enumerable.Range(1, 3_000).Select(j => new BypassForward($"s{j}", ForwardProtocol.Tcp, new PortRange(10 * j, 10 * j + 100),
                IPAddress.Parse("192.0.2.2"), new PortRange(10 * j, 10 * j + 100), IPAddress.Parse($"198.51.100.{j % 250}"), new PortRange(10 * j, 10 * j + 100))).ToList();

            IReadOnlyList<ForwardIssue> issues = ForwardSetValidator.Check(forwards);

            Assert.Equal(new[] { "(row 1)", "(row 2)", "(row 3)" }, Earlier(issues, 11));
            Assert.Equal(new[] { "(row 2990)", "(row 2991)", "(row 2992)" }, Earlier(issues, 3_000));
            Assert.Contains("TCP port 30000 on 192.0.2.2 is already forwarded by 's2990' (row 2990)", issues.First(i => i.Row == 3_000).Reason);
            Assert.Equal(0 + 1 + 2 + 3 * (3_000 - 3), issues.Count);
        }

        [Fact]
        public void NestedRangesNameTheRangesAroundThemAndTheRangesInside()
        {
            // Rows 1-100: ranges nested in one another (1-65535, 2-65534, ...); rows 101-200: single ports in the middle.
            var forwards = new List<BypassForward>();
            for (int j = 1; j <= 100; j++)
                forwards.Add(Forwards.Make($"n{j}", "tcp", $"{j}-{65536 - j}", internalAddress: $"198.51.100.{j}"));
            for (int j = 1; j <= 100; j++)
                forwards.Add(Forwards.Make($"p{j}", "tcp", (30_000 + j).ToString(), internalAddress: "203.0.113.5"));
            forwards.Add(Forwards.Make("wide", "tcp", "29000-31000", internalAddress: "203.0.113.6"));

            IReadOnlyList<ForwardIssue> issues = ForwardSetValidator.Check(forwards);

            Assert.Equal(new[] { "(row 1)", "(row 2)", "(row 3)" }, Earlier(issues, 100));
            Assert.Equal(new[] { "(row 1)", "(row 2)", "(row 3)" }, Earlier(issues, 150));
            Assert.Equal(new[] { "(row 1)", "(row 2)", "(row 3)" }, Earlier(issues, 201));
            Assert.Equal(1 + 2 + 3 * (201 - 3), issues.Count);
        }

        [Fact]
        public void TwoRowsOnOneExternalPortWithTwoBypassPortsAreRefusedWhereTheSetIsMade()
        {
            // Issue 20: the bypass router takes both, the main router only one, and the routers disagree.
            IReadOnlyList<ForwardIssue> issues = ForwardSetValidator.Check(Forwards.Numbered(
                Forwards.Make("a", "tcp", "8443", bypassPort: "9443"),
                Forwards.Make("ok", "udp", "8443", bypassPort: "9443", internalAddress: "192.0.2.21"),
                Forwards.Make("b", "tcp", "8443", bypassPort: "10443", internalAddress: "192.0.2.21")));

            ForwardIssue issue = Assert.Single(issues);
            Assert.Equal((3, "BypassNat.PortConflict", "ExternalPort", "8443"), (issue.Row, issue.ErrorId, issue.Field, issue.Value));
            Assert.Equal("Row 3: ExternalPort '8443' is not valid: TCP port 8443 on the main router's WAN is already forwarded by 'a' (row 1); " +
                "the set is for both routers, and the main router sends a port to one forward only.", issue.Message);
        }

        [Fact]
        public void AConflictNamesTheColumnTheUserWrote()
        {
            // BypassPort left out: it is the ExternalPort, and the message says ExternalPort.
            ForwardIssue same = Assert.Single(ForwardSetValidator.Check(Forwards.Numbered(
                Forwards.Make("a", "tcp", "8443"), Forwards.Make("b", "tcp", "8443", internalAddress: "192.0.2.21"))));
            Assert.Equal(("ExternalPort", "8443"), (same.Field, same.Value));
            Assert.Contains("TCP port 8443 on 192.0.2.2 is already forwarded by 'a' (row 1)", same.Reason);

            // A BypassPort of its own that clashes: BypassPort.
            ForwardIssue bypass = Assert.Single(ForwardSetValidator.Check(Forwards.Numbered(
                Forwards.Make("a", "tcp", "8443"), Forwards.Make("b", "tcp", "9000", bypassPort: "8443", internalAddress: "192.0.2.21"))));
            Assert.Equal(("BypassPort", "8443"), (bypass.Field, bypass.Value));

            // Another forward's BypassPort met by this one's ExternalPort (left as its BypassPort): ExternalPort.
            ForwardIssue external = Assert.Single(ForwardSetValidator.Check(Forwards.Numbered(
                Forwards.Make("a", "tcp", "9000", bypassPort: "8443"), Forwards.Make("b", "tcp", "8443", internalAddress: "192.0.2.21"))));
            Assert.Equal(("ExternalPort", "8443"), (external.Field, external.Value));
        }

        // The "(row N)" each PortConflict of a row names, in order.
        private static string[] Earlier(IReadOnlyList<ForwardIssue> issues, int row) =>
            issues.Where(i => i.Row == row && i.ErrorId == "BypassNat.PortConflict")
                .Select(i => System.Text.RegularExpressions.Regex.Match(i.Reason, @"\(row \d+\)").Value).ToArray();
    }
}
