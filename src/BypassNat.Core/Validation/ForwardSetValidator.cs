using System;
using System.Collections.Generic;
using System.Linq;
using System.Net;

namespace BypassNat.Validation
{
    /// <summary>
    /// The checks that need the whole desired set: two forwards cannot share a name or claim the
    /// same protocol and port on the bypass router, and no forward may capture the SSH port that
    /// BypassNat itself is using (that would lock the admin out on the next connection).
    /// </summary>
    public static class ForwardSetValidator
    {
        /// <summary>The same checks for a set that did not come from numbered rows: items count from 1.</summary>
        public static IReadOnlyList<ForwardIssue> Check(IReadOnlyList<BypassForward> forwards, IReadOnlyCollection<IPAddress> sshAddresses = null, int sshPort = 22)
        {
            var numbered = new List<KeyValuePair<int, BypassForward>>();
            for (int i = 0; i < forwards.Count; i++) numbered.Add(new KeyValuePair<int, BypassForward>(i + 1, forwards[i]));
            return Check(numbered, sshAddresses, sshPort);
        }

        /// <param name="forwards">The set, each with the 1-based row it came from.</param>
        /// <param name="sshAddresses">The router addresses the SSH session uses; none to skip the lockout check.</param>
        /// <param name="sshPort">The SSH port of the session.</param>
        public static IReadOnlyList<ForwardIssue> Check(
            IReadOnlyList<KeyValuePair<int, BypassForward>> forwards,
            IReadOnlyCollection<IPAddress> sshAddresses = null,
            int sshPort = 22)
        {
            // Each forward's own problems come first, then its conflicts with earlier forwards (in the
            // order of those), then the checks that follow from its addresses: the order a reader expects.
            int count = forwards.Count;
            var own = new List<ForwardIssue>[count];
            var rowByName = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
            // Claims on one address and protocol (bypass address and port, public address and external
            // port), on the main router's WAN (protocol and external port: the set is for both hops, and
            // the main router keys a forward by those alone), and on a device (address, protocol and
            // port, colored by the bypass address it is reached through).
            var claims = new List<PortClaim>();
            var deviceClaims = new List<PortClaim>();
            var groups = new Dictionary<IPAddress, int>();
            var deviceGroups = new Dictionary<IPAddress, int>();
            var colors = new Dictionary<IPAddress, int>();

            for (int i = 0; i < count; i++)
            {
                int row = forwards[i].Key;
                BypassForward forward = forwards[i].Value;

                // Objects made in a script rather than by New-BypassForward get the same checks on the
                // text that ends up in rules and scripts.
                if (!ForwardParser.IsSafeName(forward.Name))
                    AddTo(own, i, new ForwardIssue("BypassNat.InvalidName", row, "Name", forward.Name,
                        "a name uses only letters, digits, '.', '_' and '-', starts with a letter or digit, and has at most 32 characters"));
                string commentProblem = ForwardParser.CommentProblem(forward.Comment);
                if (commentProblem != null)
                    AddTo(own, i, new ForwardIssue("BypassNat.InvalidComment", row, "Comment", forward.Comment, commentProblem));

                if (rowByName.TryGetValue(forward.Name, out int firstRow))
                    AddTo(own, i, new ForwardIssue("BypassNat.DuplicateName", row, "Name", forward.Name,
                        $"the name is already used by row {firstRow}; names must be unique"));
                else
                    rowByName.Add(forward.Name, row);

                // An IPv6-only forward claims no port: no NAT, so no port of a router is taken, and two
                // devices may each be opened on the same port.
                if (!forward.Enabled || !forward.HasIpv4) continue;
                int color = Number(colors, forward.BypassAddress);
                foreach (string transport in forward.Transports)
                {
                    int protocol = transport == "tcp" ? 0 : 1;
                    // Group 0 and 1: the WAN; addresses from 2 on.
                    claims.Add(new PortClaim(protocol, forward.ExternalPort, i));
                    foreach (KeyValuePair<IPAddress, PortRange> claim in Claims(forward))
                        claims.Add(new PortClaim(2 * (1 + Number(groups, claim.Key)) + protocol, claim.Value, i));
                    deviceClaims.Add(new PortClaim(2 * Number(deviceGroups, forward.InternalAddress) + protocol, forward.InternalPort, i, color));
                }
            }

            // Each forward is compared with the first few earlier forwards it conflicts with, not with
            // every one: n forwards on one port are n conflicts reported, not n squared.
            int[][] clashes = PortClaim.EarlierOverlaps(claims, count, MaxConflictsShown + 1, otherColorOnly: false);
            int[][] splits = PortClaim.EarlierOverlaps(deviceClaims, count, MaxConflictsShown + 1, otherColorOnly: true);

            var issues = new List<ForwardIssue>();
            for (int i = 0; i < count; i++)
            {
                int row = forwards[i].Key;
                BypassForward forward = forwards[i].Value;
                if (own[i] != null) issues.AddRange(own[i]);
                if (!forward.Enabled) continue;

                int[] clash = clashes[i] ?? NoPositions, split = splits[i] ?? NoPositions;
                int shownClashes = Math.Min(clash.Length, MaxConflictsShown), shownSplits = Math.Min(split.Length, MaxConflictsShown);
                for (int c = 0, s = 0; c < shownClashes || s < shownSplits;)
                {
                    int e = Math.Min(c < shownClashes ? clash[c] : int.MaxValue, s < shownSplits ? split[s] : int.MaxValue);
                    KeyValuePair<int, BypassForward> earlier = forwards[e];
                    if (s < shownSplits && split[s] == e)
                    {
                        string more = ++s == shownSplits && split.Length > MaxConflictsShown ? MoreConflicts : string.Empty;
                        issues.Add(new ForwardIssue("BypassNat.PortConflict", row, "BypassAddress", forward.BypassAddress.ToString(),
                            $"{SplitDevice(earlier.Value, forward)} is also reached through {earlier.Value.BypassAddress} by '{earlier.Value.Name}' (row {earlier.Key}); " +
                            "the router can answer for a device's port through one bypass address only" + more));
                    }

                    if (c < shownClashes && clash[c] == e)
                    {
                        string more = ++c == shownClashes && clash.Length > MaxConflictsShown ? MoreConflicts : string.Empty;
                        issues.Add(Clash(earlier.Value, earlier.Key, forward, row, more));
                    }
                }

                if (forward.PublicAddress != null && forward.PublicAddress.Equals(forward.BypassAddress))
                    issues.Add(new ForwardIssue("BypassNat.InvalidAddress", row, "PublicAddress", forward.PublicAddress.ToString(),
                        "the public address is the main router's WAN address, not the bypass router's"));

                if (sshAddresses != null && forward.Carries("tcp") && forward.BypassPort.Contains(sshPort)
                    && Contains(sshAddresses, forward.BypassAddress))
                    issues.Add(new ForwardIssue("BypassNat.SshPortCapture", row, "BypassPort", forward.BypassPort.ToString(),
                        $"it would send TCP port {sshPort} on {forward.BypassAddress}, the SSH port BypassNat is using, to another host " +
                        "and lock you out of the router; pick another port, or use -Force if you really mean it"));
            }

            return issues;
        }

        /// <summary>
        /// Duplicate names that involve a row which did not parse (<see cref="Check(IReadOnlyList{KeyValuePair{int, BypassForward}}, IReadOnlyCollection{IPAddress}, int)"/>
        /// sees only the rows that did), so a later row is reported even when the row it clashes with is bad too.
        /// </summary>
        public static IReadOnlyList<ForwardIssue> DuplicateNames(IReadOnlyList<KeyValuePair<int, string>> names, ICollection<int> badRows)
        {
            var issues = new List<ForwardIssue>();
            var firstRow = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
            var firstGoodRow = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            foreach (KeyValuePair<int, string> entry in names)
            {
                string name = (entry.Value ?? string.Empty).Trim();
                if (name.Length == 0) continue;
                bool bad = badRows.Contains(entry.Key);
                if (firstRow.TryGetValue(name, out int first) && (bad || !firstGoodRow.Contains(name)))
                    issues.Add(new ForwardIssue("BypassNat.DuplicateName", entry.Key, "Name", name,
                        $"the name is already used by row {first}; names must be unique"));
                if (!firstRow.ContainsKey(name)) firstRow.Add(name, entry.Key);
                if (!bad) firstGoodRow.Add(name);
            }

            return issues;
        }

        /// <summary>How many earlier forwards a forward's conflicts name at most (of each kind).</summary>
        public const int MaxConflictsShown = 3;

        private const string MoreConflicts = "; more earlier rows conflict with this one too";

        private static readonly int[] NoPositions = new int[0];

        private static int Number(Dictionary<IPAddress, int> numbers, IPAddress address)
        {
            if (!numbers.TryGetValue(address, out int number)) numbers.Add(address, number = numbers.Count);
            return number;
        }

        // A list only for a forward with problems of its own: most have none.
        private static void AddTo(List<ForwardIssue>[] lists, int i, ForwardIssue issue) =>
            (lists[i] ?? (lists[i] = new List<ForwardIssue>())).Add(issue);

        // Each forward claims its bypass address and port, and with a public address also that address
        // and its external port: a packet to any of them must lead to exactly one device.
        private static IEnumerable<KeyValuePair<System.Net.IPAddress, PortRange>> Claims(BypassForward f)
        {
            yield return new KeyValuePair<System.Net.IPAddress, PortRange>(f.BypassAddress, f.BypassPort);
            if (f.PublicAddress != null) yield return new KeyValuePair<System.Net.IPAddress, PortRange>(f.PublicAddress, f.ExternalPort);
        }

        // The first conflict of a pair, on the bypass router's addresses first (as reported before the
        // WAN was checked here), named by the column the user wrote: a BypassPort left out is the
        // ExternalPort, so a CSV without a BypassPort column hears of its ExternalPort.
        private static ForwardIssue Clash(BypassForward a, int aRow, BypassForward b, int row, string more)
        {
            string transport = null;
            foreach (string t in b.Transports)
                if (a.Carries(t)) { transport = t.ToUpperInvariant(); break; }

            bool bypassClaim = true;
            foreach (var mine in Claims(b))
            {
                foreach (var theirs in Claims(a))
                {
                    if (!mine.Key.Equals(theirs.Key) || !mine.Value.Overlaps(theirs.Value)) continue;
                    string field = bypassClaim && b.BypassPort != b.ExternalPort ? "BypassPort" : "ExternalPort";
                    return new ForwardIssue("BypassNat.PortConflict", row, field, (field == "BypassPort" ? b.BypassPort : b.ExternalPort).ToString(),
                        $"{transport} port {Overlap(mine.Value, theirs.Value)} on {mine.Key} is already forwarded by '{a.Name}' (row {aRow}){more}");
                }

                bypassClaim = false;
            }

            return new ForwardIssue("BypassNat.PortConflict", row, "ExternalPort", b.ExternalPort.ToString(),
                $"{transport} port {Overlap(a.ExternalPort, b.ExternalPort)} on the main router's WAN is already forwarded by '{a.Name}' (row {aRow}); " +
                $"the set is for both routers, and the main router sends a port to one forward only{more}");
        }

        // Two forwards to the same device port are fine (8080 and 80 both to :80), but then both must
        // come through the same bypass address: the source NAT back to the router is keyed by the device port.
        private static string SplitDevice(BypassForward a, BypassForward b)
        {
            if (a.BypassAddress.Equals(b.BypassAddress) || !a.InternalAddress.Equals(b.InternalAddress) || !a.InternalPort.Overlaps(b.InternalPort))
                return null;
            foreach (string transport in b.Transports)
                if (a.Carries(transport))
                    return $"{transport.ToUpperInvariant()} port {Overlap(a.InternalPort, b.InternalPort)} of {b.InternalAddress}";
            return null;
        }

        private static PortRange Overlap(PortRange a, PortRange b) =>
            new PortRange(Math.Max(a.Start, b.Start), Math.Min(a.End, b.End));

        private static bool Contains(IReadOnlyCollection<IPAddress> addresses, IPAddress address)
        {
            foreach (IPAddress candidate in addresses)
                if (candidate.Equals(address)) return true;
            return false;
        }
    }
}
