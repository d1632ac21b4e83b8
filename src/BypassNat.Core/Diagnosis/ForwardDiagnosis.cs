using System.Collections.Generic;
using System.Linq;

namespace BypassNat.Diagnosis
{
    public enum DiagnosisStatus
    {
        /// <summary>Connections to the forward got their replies through this router.</summary>
        Ok,
        /// <summary>No connection to the forward is in the table: nothing reached this router lately.</summary>
        NoTraffic,
        /// <summary>Connections were sent on to the device, but no reply came back through this router.</summary>
        Unreplied,
        /// <summary>Connections to the forward's port were not sent to the device (they started before the rule).</summary>
        NotForwarded,
    }

    /// <summary>What the router's connection tracking says about one forward, with the likely cause and the fix.</summary>
    public sealed class ForwardDiagnosis
    {
        public string ComputerName { get; set; }
        public string Name { get; set; }
        public string Protocol { get; set; }
        public string Bypass { get; set; }
        public string Internal { get; set; }
        public DiagnosisStatus Status { get; set; }
        public int Connections { get; set; }
        public int Replied { get; set; }
        public int Unreplied { get; set; }

        /// <summary>Clients whose connections got no reply.</summary>
        public string[] Clients { get; set; } = new string[0];

        public string Cause { get; set; }
        public string Fix { get; set; }

        /// <summary>
        /// The usual failure: the main router sends the connection here, this router DNATs it to the
        /// device, and the device answers through another gateway, so this router never sees a reply
        /// and its entry stays UNREPLIED (and the client gets an answer from an address it never asked).
        /// </summary>
        public static ForwardDiagnosis Diagnose(string computerName, BypassForward forward, IReadOnlyList<ConntrackEntry> entries)
        {
            List<ConntrackEntry> mine = entries.Where(e => Matches(forward, e)).ToList();
            List<ConntrackEntry> unreplied = mine.Where(e => e.Unreplied).ToList();
            List<ConntrackEntry> toDevice = unreplied.Where(e => e.ReplySource.Equals(forward.InternalAddress)).ToList();
            var result = new ForwardDiagnosis
            {
                ComputerName = computerName,
                Name = forward.Name,
                Protocol = forward.Protocol.ToString(),
                Bypass = $"{forward.BypassAddress}:{forward.BypassPort}",
                Internal = $"{forward.InternalAddress}:{forward.InternalPort}",
                Connections = mine.Count,
                Replied = mine.Count - unreplied.Count,
                Unreplied = unreplied.Count,
                Clients = unreplied.Select(e => e.Source.ToString()).Distinct().ToArray(),
            };

            if (toDevice.Count > 0)
            {
                result.Status = DiagnosisStatus.Unreplied;
                result.Cause = $"{toDevice.Count} connection(s) were sent on to the device {forward.InternalAddress} but no reply came back through this router: " +
                    $"the device's gateway is not this router ({forward.BypassAddress}), so its replies take another path and are dropped" +
                    (forward.SourceNat ? "" : ", or the device does not answer on that port at all") + ".";
                result.Fix = forward.SourceNat
                    ? $"Check that the device answers on {forward.InternalPort} and that its firewall lets the router ({forward.BypassAddress}) in."
                    : $"Make {forward.BypassAddress} the device's gateway, or set SourceNat for this forward (the device then sees {forward.BypassAddress} instead of the client).";
            }
            else if (unreplied.Count > 0)
            {
                result.Status = DiagnosisStatus.NotForwarded;
                result.Cause = $"{unreplied.Count} connection(s) to the forward's port were not sent to the device: they started before the rule existed and keep their old path until they expire.";
                result.Fix = "Run Invoke-BypassForwardApply again (it clears the entries of the ports it changes), or wait for them to expire.";
            }
            else if (mine.Count == 0)
            {
                result.Status = DiagnosisStatus.NoTraffic;
                result.Cause = "No connection to this forward is in the router's connection table now.";
                result.Fix = $"Connect from outside and run this again; if nothing shows up then, the main router does not send the port to {forward.BypassAddress}:{forward.BypassPort}.";
            }
            else
            {
                result.Status = DiagnosisStatus.Ok;
            }

            return result;
        }

        private static bool Matches(BypassForward forward, ConntrackEntry entry)
        {
            if (!forward.Carries(entry.Protocol)) return false;
            if (entry.Destination.Equals(forward.BypassAddress) && forward.BypassPort.Contains(entry.DestinationPort)) return true;
            return forward.PublicAddress != null && entry.Destination.Equals(forward.PublicAddress) && forward.ExternalPort.Contains(entry.DestinationPort);
        }
    }
}
