using System;
using System.Collections.Generic;
using System.Linq;
using System.Net;
using Xunit;
using BypassNat.Validation;

namespace BypassNat.Tests
{
    /// <summary>
    /// The set check sorts port claims instead of comparing every pair; these prove it still finds
    /// every conflict the pairwise comparison found, in the same order, at scale.
    /// </summary>
    public class ForwardSetValidatorScaleTests
    {
        [Fact]
        public void FindsADuplicateNameAndAPortConflictAmongSixtyFiveThousandForwards()
        {
            // One external port a forward: the main router's WAN has 65,535 of them a protocol.
            var forwards = new List<BypassForward>();
            for (int i = 0; i < 65_000; i++)
                forwards.Add(Make($"f{i}", i % 3 == 0 ? ForwardProtocol.TcpUdp : ForwardProtocol.Tcp,
                    Address(i / 30_000), 1 + i, Address(1000 + i / 30_000), 1 + i));
            // UDP port 8 is free (f7 is TCP alone).
            forwards.Add(Make("F17", ForwardProtocol.Udp, Address(9), 8, Address(900), 8));
            forwards.Add(Make("late", ForwardProtocol.Udp, Address(1), 49_999, Address(901), 5));

            IReadOnlyList<ForwardIssue> issues = ForwardSetValidator.Check(forwards);

            Assert.Equal(2, issues.Count);
            Assert.Equal("BypassNat.DuplicateName", issues[0].ErrorId);
            Assert.Equal(65_001, issues[0].Row);
            Assert.Contains("row 18", issues[0].Reason);
            Assert.Equal("BypassNat.PortConflict", issues[1].ErrorId);
            Assert.Equal(65_002, issues[1].Row);
            // Port 49999 on address 1 is row 49999's (f49998, TcpUdp since 49998 % 3 == 0).
            Assert.Contains("UDP port 49999 on 192.0.2.1 is already forwarded by 'f49998' (row 49999)", issues[1].Reason);
        }

        [Fact]
        public void AWideRangeConflictsWithEveryForwardInsideIt()
        {
            var forwards = new List<BypassForward> { Make("wide", ForwardProtocol.Tcp, Address(2), 1000, Address(20), 1000, 60_000) };
            for (int i = 0; i < 50; i++) forwards.Add(Make($"in{i}", ForwardProtocol.Tcp, Address(2), 2000 + i * 100, Address(21), 80));
            forwards.Add(Make("outside", ForwardProtocol.Tcp, Address(2), 61_000, Address(21), 81));

            IReadOnlyList<ForwardIssue> issues = ForwardSetValidator.Check(forwards);

            Assert.Equal(50, issues.Count);
            Assert.All(issues, issue => Assert.Contains("by 'wide' (row 1)", issue.Reason));
            Assert.Equal(Enumerable.Range(2, 50), issues.Select(issue => issue.Row));
        }

        [Theory]
        [InlineData(1)]
        [InlineData(2)]
        [InlineData(3)]
        [InlineData(4)]
        [InlineData(5)]
        public void ReportsExactlyWhatComparingEveryPairReports(int seed) => CompareWithEveryPair(seed, 300, 20);

        [Theory]
        [InlineData(11)]
        [InlineData(12)]
        [InlineData(13)]
        public void ReportsExactlyWhatComparingEveryPairReportsWithLongRanges(int seed) => CompareWithEveryPair(seed, 1_000, 150);

        private static void CompareWithEveryPair(int seed, int count, int longest)
        {
            // Few addresses and ports, so that names, ports and device ports collide often.
            var random = new Random(seed);
            var forwards = new List<BypassForward>();
            for (int i = 0; i < count; i++)
            {
                int start = 1 + random.Next(200), length = random.Next(4) == 0 ? 1 + random.Next(longest) : 1;
                int device = 1 + random.Next(200);
                var protocol = (ForwardProtocol)random.Next(3);
                BypassForward forward = Make($"n{random.Next(250)}", protocol, Address(random.Next(3)), start,
                    Address(20 + random.Next(3)), device, length, enabled: random.Next(10) != 0);
                if (random.Next(8) == 0) forward = forward.WithPublicAddress(Address(random.Next(2) == 0 ? 50 : random.Next(3)));
                forwards.Add(forward);
            }

            var ssh = new[] { Address(1) };
            string[] expected = PairwiseCheck(forwards, ssh, 22).Select(Describe).ToArray();
            string[] actual = ForwardSetValidator.Check(forwards, ssh, 22).Select(Describe).ToArray();

            Assert.True(expected.Count(e => e.Contains("PortConflict")) > 20, "the random set should hold conflicts");
            Assert.Equal(expected, actual);
        }

        private static string Describe(ForwardIssue issue) => $"{issue.Row} {issue.ErrorId} {issue.Field}={issue.Value}: {issue.Reason}";

        private static IPAddress Address(int n) => IPAddress.Parse($"192.0.2.{n % 256}");

        private static BypassForward Make(string name, ForwardProtocol protocol, IPAddress bypass, int port, IPAddress device, int devicePort,
            int length = 1, bool enabled = true) =>
            new BypassForward(name, protocol, new PortRange(port, port + length - 1), bypass, new PortRange(port, port + length - 1),
                device, new PortRange(devicePort, devicePort + length - 1), enabled: enabled);

        // The check as it was written first, every forward against every earlier one: the reference.
        // As the check, it names at most the first MaxConflictsShown earlier forwards of each kind.
        private static List<ForwardIssue> PairwiseCheck(IReadOnlyList<BypassForward> forwards, IPAddress[] ssh, int sshPort)
        {
            const int shown = ForwardSetValidator.MaxConflictsShown;
            const string more = "; more earlier rows conflict with this one too";
            var issues = new List<ForwardIssue>();
            var rowByName = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
            var claimed = new List<(int Row, BypassForward Forward)>();
            for (int i = 0; i < forwards.Count; i++)
            {
                int row = i + 1;
                BypassForward f = forwards[i];
                if (rowByName.TryGetValue(f.Name, out int first))
                    issues.Add(new ForwardIssue("BypassNat.DuplicateName", row, "Name", f.Name, $"the name is already used by row {first}; names must be unique"));
                else rowByName.Add(f.Name, row);
                if (!f.Enabled) continue;
                var splits = new List<ForwardIssue>();
                var clashes = new List<ForwardIssue>();
                var order = new List<(int Row, int Kind, ForwardIssue Issue)>();
                foreach ((int earlierRow, BypassForward e) in claimed)
                {
                    string t = f.Transports.FirstOrDefault(e.Carries);
                    if (t == null) continue;
                    if (!e.BypassAddress.Equals(f.BypassAddress) && e.InternalAddress.Equals(f.InternalAddress) && e.InternalPort.Overlaps(f.InternalPort))
                        splits.Add(new ForwardIssue("BypassNat.PortConflict", row, "BypassAddress", f.BypassAddress.ToString(),
                            $"{t.ToUpperInvariant()} port {Overlap(e.InternalPort, f.InternalPort)} of {f.InternalAddress} is also reached through {e.BypassAddress} by '{e.Name}' (row {earlierRow}); " +
                            "the router can answer for a device's port through one bypass address only"));

                    ForwardIssue clash = null;
                    bool bypassClaim = true;
                    foreach (var mine in ClaimsOf(f))
                    {
                        foreach (var theirs in ClaimsOf(e))
                        {
                            if (!mine.Item1.Equals(theirs.Item1) || !mine.Item2.Overlaps(theirs.Item2)) continue;
                            string field = bypassClaim && f.BypassPort != f.ExternalPort ? "BypassPort" : "ExternalPort";
                            clash = new ForwardIssue("BypassNat.PortConflict", row, field, (field == "BypassPort" ? f.BypassPort : f.ExternalPort).ToString(),
                                $"{t.ToUpperInvariant()} port {Overlap(mine.Item2, theirs.Item2)} on {mine.Item1} is already forwarded by '{e.Name}' (row {earlierRow})");
                            break;
                        }

                        if (clash != null) break;
                        bypassClaim = false;
                    }

                    if (clash == null && e.ExternalPort.Overlaps(f.ExternalPort))
                        clash = new ForwardIssue("BypassNat.PortConflict", row, "ExternalPort", f.ExternalPort.ToString(),
                            $"{t.ToUpperInvariant()} port {Overlap(e.ExternalPort, f.ExternalPort)} on the main router's WAN is already forwarded by '{e.Name}' (row {earlierRow}); " +
                            "the set is for both routers, and the main router sends a port to one forward only");
                    if (clash != null) clashes.Add(clash);
                }

                foreach (List<ForwardIssue> kind in new[] { splits, clashes })
                    for (int k = 0; k < kind.Count && k < shown; k++)
                    {
                        ForwardIssue issue = kind[k];
                        if (k == shown - 1 && kind.Count > shown)
                            issue = new ForwardIssue(issue.ErrorId, issue.Row, issue.Field, issue.Value, issue.Reason + more);
                        order.Add((EarlierRow(issue), kind == splits ? 0 : 1, issue));
                    }

                issues.AddRange(order.OrderBy(o => o.Row).ThenBy(o => o.Kind).Select(o => o.Issue));
                if (f.PublicAddress != null && f.PublicAddress.Equals(f.BypassAddress))
                    issues.Add(new ForwardIssue("BypassNat.InvalidAddress", row, "PublicAddress", f.PublicAddress.ToString(),
                        "the public address is the main router's WAN address, not the bypass router's"));
                claimed.Add((row, f));
                if (f.Carries("tcp") && f.BypassPort.Contains(sshPort) && ssh.Contains(f.BypassAddress))
                    issues.Add(new ForwardIssue("BypassNat.SshPortCapture", row, "BypassPort", f.BypassPort.ToString(),
                        $"it would send TCP port {sshPort} on {f.BypassAddress}, the SSH port BypassNat is using, to another host " +
                        "and lock you out of the router; pick another port, or use -Force if you really mean it"));
            }

            return issues;
        }

        private static int EarlierRow(ForwardIssue issue)
        {
            int at = issue.Reason.IndexOf("(row ", StringComparison.Ordinal) + 5;
            return int.Parse(issue.Reason.Substring(at, issue.Reason.IndexOf(')', at) - at), System.Globalization.CultureInfo.InvariantCulture);
        }

        private static IEnumerable<(IPAddress, PortRange)> ClaimsOf(BypassForward f)
        {
            yield return (f.BypassAddress, f.BypassPort);
            if (f.PublicAddress != null) yield return (f.PublicAddress, f.ExternalPort);
        }

        private static PortRange Overlap(PortRange a, PortRange b) => new PortRange(Math.Max(a.Start, b.Start), Math.Min(a.End, b.End));
    }
}
