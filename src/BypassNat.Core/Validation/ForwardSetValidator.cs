using System;
using System.Collections.Generic;
using System.Linq;
using System.Net;

namespace BypassNat
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
            var claims = new List<PortClaim>();
            var deviceClaims = new List<PortClaim>();

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

                if (!forward.Enabled) continue;
                foreach (string transport in forward.Transports)
                {
                    foreach (KeyValuePair<IPAddress, PortRange> claim in Claims(forward))
                        claims.Add(new PortClaim(claim.Key, transport, claim.Value, i));
                    deviceClaims.Add(new PortClaim(forward.InternalAddress, transport, forward.InternalPort, i));
                }
            }

            // Only forwards whose ports overlap can conflict: find those pairs by sorting the claims
            // instead of comparing every forward with every other one, which made 60,000 rows take a minute.
            var earlierByPosition = new Dictionary<int, SortedSet<int>>();
            foreach (PortClaim[] pair in PortClaim.Overlapping(claims).Concat(PortClaim.Overlapping(deviceClaims)))
            {
                int earlier = Math.Min(pair[0].Position, pair[1].Position), later = Math.Max(pair[0].Position, pair[1].Position);
                if (earlier == later) continue;
                if (!earlierByPosition.TryGetValue(later, out SortedSet<int> set)) earlierByPosition[later] = set = new SortedSet<int>();
                set.Add(earlier);
            }

            var issues = new List<ForwardIssue>();
            for (int i = 0; i < count; i++)
            {
                int row = forwards[i].Key;
                BypassForward forward = forwards[i].Value;
                if (own[i] != null) issues.AddRange(own[i]);
                if (!forward.Enabled) continue;

                if (earlierByPosition.TryGetValue(i, out SortedSet<int> conflicting))
                    foreach (int e in conflicting)
                    {
                        KeyValuePair<int, BypassForward> earlier = forwards[e];
                        string split = SplitDevice(earlier.Value, forward);
                        if (split != null)
                            issues.Add(new ForwardIssue("BypassNat.PortConflict", row, "BypassAddress", forward.BypassAddress.ToString(),
                                $"{split} is also reached through {earlier.Value.BypassAddress} by '{earlier.Value.Name}' (row {earlier.Key}); " +
                                "the router can answer for a device's port through one bypass address only"));
                        string clash = Clash(earlier.Value, forward);
                        if (clash != null)
                            issues.Add(new ForwardIssue("BypassNat.PortConflict", row, "BypassPort", forward.BypassPort.ToString(),
                                $"{clash} is already forwarded by '{earlier.Value.Name}' (row {earlier.Key})"));
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

        private static string Clash(BypassForward a, BypassForward b)
        {
            foreach (var mine in Claims(b))
                foreach (var theirs in Claims(a))
                {
                    if (!mine.Key.Equals(theirs.Key) || !mine.Value.Overlaps(theirs.Value)) continue;
                    foreach (string transport in b.Transports)
                        if (a.Carries(transport))
                            return $"{transport.ToUpperInvariant()} port {Overlap(mine.Value, theirs.Value)} on {mine.Key}";
                }

            return null;
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
