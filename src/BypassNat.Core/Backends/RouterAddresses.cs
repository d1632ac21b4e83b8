using System;
using System.Collections.Generic;
using System.Linq;
using System.Net;
using System.Text.RegularExpressions;
using BypassNat.Ssh;

namespace BypassNat.Backends
{
    /// <summary>One IPv4 address of a router interface, with its connected prefix.</summary>
    public sealed class InterfaceAddress
    {
        public InterfaceAddress(string interfaceName, IPAddress address, Ipv4Prefix prefix)
        {
            Interface = interfaceName;
            Address = address;
            Prefix = prefix;
        }

        public string Interface { get; }
        public IPAddress Address { get; }
        public Ipv4Prefix Prefix { get; }
    }

    /// <summary>
    /// A router's IPv4 addresses and the interfaces of its default routes, read with <c>ip</c> (no
    /// privileges needed) in one round trip: enough to check that a forward belongs on this router,
    /// and to find the main router's WAN side.
    /// </summary>
    public sealed class RouterAddresses
    {
        public RouterAddresses(IEnumerable<InterfaceAddress> addresses, IEnumerable<string> defaultInterfaces)
        {
            Addresses = addresses.ToList();
            DefaultInterfaces = defaultInterfaces.Distinct(StringComparer.Ordinal).ToList();
        }

        /// <summary>Every IPv4 address but loopback.</summary>
        public IReadOnlyList<InterfaceAddress> Addresses { get; }

        /// <summary>The interfaces the default routes leave by, in the order ip lists them.</summary>
        public IReadOnlyList<string> DefaultInterfaces { get; }

        public bool Owns(IPAddress address) => Addresses.Any(a => a.Address.Equals(address));

        public string Describe() => Addresses.Count == 0 ? "none" : string.Join(", ", Addresses.Select(a => $"{a.Address} ({a.Interface})"));

        /// <summary>Lists the addresses, then the default routes; needs no privileges.</summary>
        public const string Script = "ip -4 -o addr show || exit 1\necho '--routes--'\nip -4 route show default\n";

        public static RouterAddresses Read(RouterSession session) => Parse(session, session.Run(RouterScript.Preamble + Script, "reading the router's addresses"));

        public static RouterAddresses Parse(RouterSession session, CommandResult result)
        {
            if (!result.Succeeded) throw RouterScript.Failure(session, "list its addresses and routes (ip -4 addr, ip -4 route)", result, "ip (iproute2)");
            return Parse(result.Output);
        }

        public static RouterAddresses Parse(string output)
        {
            string[] parts = output.Split(new[] { "--routes--" }, StringSplitOptions.None);
            var addresses = new List<InterfaceAddress>();
            foreach (Match m in Regex.Matches(parts[0], @"^\d+:\s+(?<if>[^\s:@]+)[^\n]*?\binet (?<addr>\d+\.\d+\.\d+\.\d+)(?:/(?<len>\d+)| peer )", RegexOptions.Multiline))
            {
                if (!IPAddress.TryParse(m.Groups["addr"].Value, out IPAddress address) || address.ToString().StartsWith("127.", StringComparison.Ordinal)) continue;
                // A point-to-point link (PPPoE) lists "inet LOCAL peer REMOTE/32": the address stands alone.
                string length = m.Groups["len"].Success ? m.Groups["len"].Value : "32";
                if (!Ipv4Prefix.TryParse(m.Groups["addr"].Value + "/" + length, out Ipv4Prefix prefix)) continue;
                addresses.Add(new InterfaceAddress(m.Groups["if"].Value, address, prefix));
            }

            var defaults = new List<string>();
            if (parts.Length > 1)
                foreach (Match m in Regex.Matches(parts[1], @"^default\b[^\n]*?\bdev (?<if>\S+)", RegexOptions.Multiline))
                    defaults.Add(m.Groups["if"].Value);
            return new RouterAddresses(addresses, defaults);
        }

        /// <summary>
        /// The main router's context: the WAN interface (named, or the default route's), the LANs (every
        /// other connected prefix) and the WAN's current addresses.
        /// </summary>
        public RenderContext MainContext(string wanInterface, string endpoint)
        {
            if (wanInterface == null)
            {
                if (DefaultInterfaces.Count == 0)
                    throw new BypassNatException("BypassNat.WanInterfaceNotFound", FailureKind.InvalidData,
                        $"The main router {endpoint} has no IPv4 default route, so its WAN side is unknown; name it with -WanInterface (for example -WanInterface pppoe-wan). Nothing was changed.", endpoint);
                if (DefaultInterfaces.Count > 1)
                    throw new BypassNatException("BypassNat.WanInterfaceAmbiguous", FailureKind.InvalidData,
                        $"The main router {endpoint} has default routes through {string.Join(", ", DefaultInterfaces)}; name the WAN side with -WanInterface. Nothing was changed.", endpoint);
                wanInterface = DefaultInterfaces[0];
            }

            MainHop.RequireInterface(wanInterface, "The WAN interface");
            List<InterfaceAddress> wan = Addresses.Where(a => a.Interface == wanInterface).ToList();
            IEnumerable<Ipv4Prefix> lans = Addresses.Where(a => a.Interface != wanInterface && !wan.Any(w => w.Prefix.Equals(a.Prefix))).Select(a => a.Prefix);
            return new RenderContext(lans, wanInterface, wan.Select(a => a.Address));
        }
    }
}
