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
        /// <summary>Connections came only from clients the forward's AllowedSource does not admit: not forwarded, as asked.</summary>
        NotAllowed,
    }

    /// <summary>What the bypass router shows besides its connection table, for drawing a forward's path.</summary>
    public sealed class PathFacts
    {
        /// <summary>BypassNat's rules are hooked into the router's NAT (a flush can leave them unhooked).</summary>
        public bool Hooked { get; set; } = true;

        /// <summary>The proxy hop: NotNeeded when no proxy captures the device's replies.</summary>
        public HopState Proxy { get; set; } = HopState.NotNeeded;

        public string ProxyDetail { get; set; } = "no proxy on this router captures the device's replies";

        /// <summary>The device's TCP port asked from the router: open, closed or unknown (<see cref="DevicePortProbe"/>).</summary>
        public string DevicePort { get; set; } = DevicePortProbe.Unknown;

        /// <summary>The forward's IPv6 rules on this hop (Ok: in place, Failed: missing or not first); NotNeeded without InternalIPv6.</summary>
        public HopState Ipv6 { get; set; } = HopState.NotNeeded;

        public string Ipv6Detail { get; set; } = "the forward has no InternalIPv6";
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

        /// <summary>The clients this forward admits ("any" for every client).</summary>
        public string AllowedSource { get; set; }

        /// <summary>Connections from clients AllowedSource does not admit (not forwarded, as asked).</summary>
        public int NotAdmitted { get; set; }

        public string Cause { get; set; }
        public string Fix { get; set; }

        /// <summary>The main router's forward, as far as the connections that reached this router show it.</summary>
        public HopState MainRouter { get; set; }

        /// <summary>This router's rule for the forward (present and hooked in).</summary>
        public HopState BypassRule { get; set; }

        /// <summary>The exemption of the device's replies from a transparent proxy on this router.</summary>
        public HopState ProxyExemption { get; set; }

        /// <summary>Whether connections sent to the device got their replies back through this router.</summary>
        public HopState Conntrack { get; set; }

        /// <summary>Whether the device's replies come back through this router (its gateway), as the connection table shows.</summary>
        public HopState DeviceGateway { get; set; }

        /// <summary>Whether the device's TCP port answers when this router connects to it.</summary>
        public HopState DevicePort { get; set; }

        /// <summary>The forward's IPv6 rules on this router: the main router's pinhole or the bypass router's reply exemption (NotNeeded: no InternalIPv6).</summary>
        public HopState Ipv6 { get; set; } = HopState.NotNeeded;

        /// <summary>The path internet -> main router -> bypass router -> device, hop by hop, each with its state and what shows it.</summary>
        public PathHop[] Path { get; set; } = new PathHop[0];

        /// <summary>
        /// The usual failure: the main router sends the connection here, this router DNATs it to the
        /// device, and the device answers through another gateway, so this router never sees a reply
        /// and its entry stays UNREPLIED (and the client gets an answer from an address it never asked).
        /// </summary>
        public static ForwardDiagnosis Diagnose(string computerName, BypassForward forward, IReadOnlyList<ConntrackEntry> entries) =>
            Diagnose(computerName, forward, entries, new PathFacts());

        public static ForwardDiagnosis Diagnose(string computerName, BypassForward forward, IReadOnlyList<ConntrackEntry> entries, PathFacts facts)
        {
            if (!forward.HasIpv4) return DiagnoseIpv6Only(computerName, forward, facts);
            List<ConntrackEntry> all = entries.Where(e => Matches(forward, e)).ToList();
            // A client AllowedSource does not admit is not forwarded, as asked: not a fault of the path.
            List<ConntrackEntry> refused = all.Where(e => !forward.AllowedSource.Admits(e.Source)).ToList();
            List<ConntrackEntry> mine = all.Where(e => forward.AllowedSource.Admits(e.Source)).ToList();
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
                AllowedSource = forward.AllowedSource.IsAny ? "any" : forward.AllowedSource.ToString(),
                NotAdmitted = refused.Count,
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
            else if (mine.Count == 0 && refused.Count > 0)
            {
                result.Status = DiagnosisStatus.NotAllowed;
                result.Cause = $"{refused.Count} connection(s) came only from clients that AllowedSource ({result.AllowedSource}) does not admit " +
                    $"({string.Join(", ", refused.Select(e => e.Source.ToString()).Distinct())}): they are not forwarded, as the forward asks.";
                result.Fix = "Connect from an admitted client, or add the client to the forward's AllowedSource and apply again.";
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

            DrawPath(result, forward, facts, all.Count, toDevice.Count, unreplied.Count - toDevice.Count);
            if (result.Status == DiagnosisStatus.Unreplied && result.DevicePort == HopState.Failed)
            {
                // The router cannot reach the port either: the device is the problem, not its gateway.
                result.Cause = $"{toDevice.Count} connection(s) were sent on to the device {forward.InternalAddress} and got no reply, and port {forward.InternalPort.Start} does not answer the router either: nothing listens there, or the device's firewall drops it.";
                result.Fix = $"Start the service on {forward.InternalAddress} port {forward.InternalPort.Start}, or open the device's firewall to it.";
            }

            return result;
        }

        /// <summary>
        /// An IPv6-only forward: no NAT, and the bypass router takes its replies out of conntrack on purpose, so
        /// the connection table has nothing to tell; its IPv6 rules are what this router shows of it.
        /// </summary>
        private static ForwardDiagnosis DiagnoseIpv6Only(string computerName, BypassForward forward, PathFacts facts)
        {
            var result = new ForwardDiagnosis
            {
                ComputerName = computerName,
                Name = forward.Name,
                Protocol = forward.Protocol.ToString(),
                Bypass = forward.BypassAddress.ToString(),
                Internal = $"[{forward.InternalIPv6}]:{forward.ExternalPort}",
                AllowedSource = forward.AllowedSourceIPv6.IsAny ? "any" : forward.AllowedSourceIPv6.ToString(),
                Status = facts.Ipv6 == HopState.Failed ? DiagnosisStatus.NotForwarded : DiagnosisStatus.NoTraffic,
                Ipv6 = facts.Ipv6,
                MainRouter = HopState.Unknown, BypassRule = HopState.NotNeeded, ProxyExemption = HopState.NotNeeded, Conntrack = HopState.NotNeeded,
                DeviceGateway = HopState.Unknown, DevicePort = HopState.Unknown,
            };
            if (facts.Ipv6 == HopState.Failed)
            {
                result.Cause = $"The forward is IPv6 only, and this router's IPv6 rules for it are not in place: {facts.Ipv6Detail}.";
                result.Fix = "Run Invoke-BypassForwardApply again.";
            }

            result.Path = new[] { new PathHop("ipv6", facts.Ipv6, facts.Ipv6Detail) };
            return result;
        }

        /// <summary>Each hop's state as this router can see it, and the path they make.</summary>
        private static void DrawPath(ForwardDiagnosis result, BypassForward forward, PathFacts facts, int arrived, int unrepliedToDevice, int notForwarded)
        {
            string bypass = $"{forward.BypassAddress}:{forward.BypassPort}";
            string device = $"{forward.InternalAddress}:{forward.InternalPort}";
            bool tcp = forward.Protocol != ForwardProtocol.Udp;

            result.MainRouter = arrived > 0 ? HopState.Ok : HopState.Unknown;
            string main = arrived > 0
                ? $"{arrived} connection(s) arrived at {bypass}: it forwards port {forward.ExternalPort}"
                : $"no connection to {bypass} now: connect from outside, or check that it forwards port {forward.ExternalPort} to {bypass}";

            result.BypassRule = facts.Hooked ? HopState.Ok : HopState.Failed;
            string rule = (facts.Hooked ? $"rule {forward.Protocol} {bypass} -> {device}" : "BypassNat's rules are not hooked in (a flush?): apply again") +
                (forward.AllowedSource.IsAny ? "" : $", only from {result.AllowedSource}") +
                (result.NotAdmitted > 0 ? $" ({result.NotAdmitted} from other clients, not forwarded)" : "");

            result.ProxyExemption = facts.Proxy;

            result.Conntrack = result.Connections == 0 ? HopState.Unknown : result.Unreplied > 0 ? HopState.Failed : HopState.Ok;
            string conntrack = result.Connections == 0 ? "no entry for this forward"
                : result.Unreplied == 0 ? $"{result.Replied} connection(s), all replied"
                : $"{result.Unreplied} of {result.Connections} UNREPLIED" + (notForwarded > 0 ? $" ({notForwarded} not sent to the device: older than the rule)" : "") +
                  (result.Clients.Length > 0 ? $"; clients {string.Join(", ", result.Clients)}" : "");

            result.DevicePort = !tcp || facts.DevicePort == DevicePortProbe.Unknown ? HopState.Unknown
                : facts.DevicePort == DevicePortProbe.Open ? HopState.Ok : HopState.Failed;
            string port = !tcp ? "UDP: cannot be asked"
                : facts.DevicePort == DevicePortProbe.Open ? $"port {forward.InternalPort.Start} answers the router"
                : facts.DevicePort == DevicePortProbe.Closed ? $"port {forward.InternalPort.Start} does not answer the router: nothing listens, or its firewall drops it"
                : "could not ask its port (no nc or socat on the router)";

            // Replies that never came back while the device does answer the router: its gateway is another router.
            result.DeviceGateway = unrepliedToDevice > 0 && result.DevicePort != HopState.Failed ? HopState.Failed
                : result.Replied > 0 && unrepliedToDevice == 0 ? HopState.Ok : HopState.Unknown;
            string gateway = result.DeviceGateway == HopState.Failed ? $"replies do not come back through {forward.BypassAddress}: its gateway is another router"
                : result.DeviceGateway == HopState.Ok ? (forward.SourceNat ? "replies come back (source NAT)" : $"replies come back through {forward.BypassAddress}")
                : "no reply to tell its gateway by";

            result.Ipv6 = forward.InternalIPv6 == null ? HopState.NotNeeded : facts.Ipv6;
            var path = new List<PathHop>
            {
                new PathHop("main router", result.MainRouter, main),
                new PathHop("bypass router", result.BypassRule, rule),
                new PathHop("proxy", facts.Proxy, facts.ProxyDetail),
                new PathHop("conntrack", result.Conntrack, conntrack),
                new PathHop("device", Worst(result.DeviceGateway, result.DevicePort), gateway + "; " + port),
            };
            // The IPv6 half takes another path (no NAT; see Ipv6Pinholes): its rules on this router, on a line of their own.
            if (forward.InternalIPv6 != null) path.Add(new PathHop("ipv6", facts.Ipv6, facts.Ipv6Detail));
            result.Path = path.ToArray();
        }

        private static HopState Worst(HopState a, HopState b) =>
            a == HopState.Failed || b == HopState.Failed ? HopState.Failed : a == HopState.Ok || b == HopState.Ok ? HopState.Ok : HopState.Unknown;

        private static bool Matches(BypassForward forward, ConntrackEntry entry)
        {
            if (!forward.Carries(entry.Protocol)) return false;
            if (entry.Destination.Equals(forward.BypassAddress) && forward.BypassPort.Contains(entry.DestinationPort)) return true;
            return forward.PublicAddress != null && entry.Destination.Equals(forward.PublicAddress) && forward.ExternalPort.Contains(entry.DestinationPort);
        }
    }
}
