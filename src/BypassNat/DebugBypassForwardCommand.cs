using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using System.Net;
using BypassNat.Apply;
using BypassNat.Diagnosis;

namespace BypassNat.Commands
{
    /// <summary>
    /// Says why a forward does not work, from the router's connection tracking: connections that the
    /// router sent on to the device but that never got a reply mean the device answers through
    /// another gateway.
    /// </summary>
    [Cmdlet(VerbsDiagnostic.Debug, "BypassForward", DefaultParameterSetName = ComputerNameSet)]
    [OutputType(typeof(ForwardDiagnosis))]
    public sealed class DebugBypassForwardCommand : RouterCommand
    {
        /// <summary>Only forwards whose name matches one of these wildcard patterns.</summary>
        [Parameter(Position = 0)]
        [SupportsWildcards]
        public string[] Name { get; set; }

        protected override void ProcessRouters()
        {
            ForEachRouter((router, session) =>
            {
                // No SSH session: the router is reached through a web API (iKuai), which does not show its
                // connection table. Refused before the API is opened, so no plain-HTTP warning comes first.
                if (session == null)
                    throw new BypassNatException("BypassNat.DiagnosisNotSupported", FailureKind.InvalidOperation,
                        $"Debug-BypassForward reads the router's connection table over SSH; {router.Name} is reached through the {Backend} web API, which does not show it. Run it against the bypass router. Nothing was changed.", router.Name);
                Apply.ForwardApplier applier = Applier(router, session);
                Backends.RouterState state = applier.ReadState();
                // With their IPv6 part, and the IPv6-only forwards (their rules are all this router shows of them).
                List<BypassForward> forwards = SelectByName(router, applier.ReadAll(), Name ?? new[] { "*" })
                    .Where(f => f.Enabled).ToList();
                if (forwards.Count == 0) return;
                var facts = new PathFacts { Hooked = state.InPlace };
                if (applier.Proxy != null)
                {
                    var exemption = Proxy.ProxyExemption.For(applier.Proxy, applier.ReadAll());
                    IReadOnlyList<string> advice = exemption.Advice(router.Name);
                    if (advice.Count > 0 || exemption.NeedsWrite)
                    {
                        facts.Proxy = HopState.Failed;
                        facts.ProxyDetail = exemption.NeedsWrite ? "a proxy captures the replies and BypassNat's exemption is missing or out of date: apply again"
                            : "a proxy captures the replies and needs rules BypassNat cannot add (see Invoke-BypassForwardApply's warning)";
                    }
                    else if (exemption.Relevant)
                    {
                        facts.Proxy = HopState.Ok;
                        facts.ProxyDetail = "a proxy captures LAN traffic; the replies are exempted";
                    }
                }

                IReadOnlyDictionary<string, string> ports = DevicePortProbe.Run(session,
                    forwards.Where(f => f.HasIpv4 && f.Protocol != ForwardProtocol.Udp).Select(f => new KeyValuePair<IPAddress, int>(f.InternalAddress, f.InternalPort.Start)));
                IEnumerable<IPAddress> addresses = forwards.Select(f => f.BypassAddress)
                    .Concat(forwards.Where(f => f.PublicAddress != null).Select(f => f.PublicAddress));
                IReadOnlyList<ConntrackEntry> entries = ConntrackReader.Read(session, addresses);
                Verbose($"{entries.Count} TCP/UDP connection(s) to the forwards' addresses in the connection table of {router.Name}.");
                foreach (BypassForward forward in forwards)
                {
                    facts.DevicePort = forward.HasIpv4 && ports.TryGetValue(DevicePortProbe.Key(forward.InternalAddress, forward.InternalPort.Start), out string answer) ? answer : DevicePortProbe.Unknown;
                    facts.Ipv6 = HopState.NotNeeded;
                    facts.Ipv6Detail = "the forward has no InternalIPv6";
                    if (forward.InternalIPv6 != null && applier.Ipv6State != null)
                    {
                        facts.Ipv6 = Backends.Iptables.Ipv6Pinholes.Holds(applier.Hop.Role, applier.Ipv6State, forward, out string detail) ? HopState.Ok : HopState.Failed;
                        facts.Ipv6Detail = detail;
                    }

                    ForwardDiagnosis diagnosis = ForwardDiagnosis.Diagnose(router.Name, forward, entries, facts);
                    if (diagnosis.Status == DiagnosisStatus.Unreplied || diagnosis.Status == DiagnosisStatus.NotForwarded || diagnosis.Path.Any(h => h.State == HopState.Failed))
                        Warn($"{router.Name}: forward '{forward.Name}': " + (diagnosis.Cause != null ? $"{diagnosis.Cause} {diagnosis.Fix}"
                            : string.Join("; ", diagnosis.Path.Where(h => h.State == HopState.Failed).Select(h => $"{h.Hop}: {h.Detail}")) + "."));
                    Emit(diagnosis);
                }
            });
        }
    }
}
