using System.Collections.Generic;
using System.Linq;
using System.Net;
using BypassNat.Backends;
using BypassNat.Ssh;
using BypassNat.Validation;

namespace BypassNat.Backends.Uci
{
    /// <summary>What an OpenWrt main router's firewall config holds of BypassNat's redirects.</summary>
    public sealed class UciRouterState : RouterState
    {
        public UciRouterState(UciState held) => Held = held;

        public UciState Held { get; }

        public override bool Present => Held.Redirects.Count > 0 || Held.Strays.Count > 0;

        // firewall4 renders what the config holds on every reload: there is no hook to lose.
        public override bool InPlace => true;

        public override string Repair => null;
    }

    /// <summary>
    /// The main router's half as UCI redirect sections on OpenWrt (firewall4), behind the same
    /// interface as the kernel backends, so Get/Test/Remove and -WhatIf work unchanged. The writing is
    /// <see cref="UciRedirectApplier"/>'s: one batch, commit and reload as one step, rolled back when
    /// firewall4 refuses it.
    /// </summary>
    /// <remarks>
    /// A redirect holds no comment, and reflection is on or off: firewall4 answers LAN clients on the
    /// WAN zone's own addresses. So the forwards are compared in that shape (<see cref="Shape"/>):
    /// no comment, and the public address of a reflected forward is <see cref="ReflectionAddress"/>.
    /// </remarks>
    public sealed class UciBackend : IDirectBackend
    {
        public UciBackend(RouterSession session = null, string wanZone = "wan", string lanZone = "lan")
        {
            Session = session;
            WanZone = wanZone;
            LanZone = lanZone;
        }

        /// <summary>The SSH connection to the router, whose uci and fw4 this backend drives.</summary>
        public RouterSession Session { get; }

        public IRouterTransport Transport => new ShellTransport(Session);

        public BackendKind Kind => BackendKind.Uci;

        // The router's own config is persistent, and its rollback is OpenWrt's (not BypassNat's watchdog).
        public BackendCapabilities Capabilities => BackendCapabilities.PersistsItself | BackendCapabilities.Zones;

        public string Explain(BackendCapabilities capability)
        {
            switch (capability)
            {
                case BackendCapabilities.CommitConfirmed:
                    return $"-ConfirmTimeout is not supported for an OpenWrt main router's UCI redirects ({Session?.Settings.Endpoint}): their rollback belongs to OpenWrt's own " +
                        "apply-with-rollback (LuCI's Save & Apply, ubus session apply), which BypassNat does not drive. Nothing was changed. Apply without -ConfirmTimeout, or use LuCI.";
                case BackendCapabilities.PersistsItself:
                    return "holds the forwards as UCI redirects in /etc/config/firewall, which is its persistent config: firewall4 renders them at boot and on every reload, so nothing more is installed.";
                default:
                    return null;
            }
        }

        /// <summary>The firewall zones the redirects go from and to (OpenWrt's defaults: wan, lan).</summary>
        public string WanZone { get; set; }
        public string LanZone { get; set; }

        /// <summary>
        /// The address firewall4's reflection answers on (the WAN interface's first address, as
        /// firewall4 finds it); 0.0.0.0 when the WAN side is unknown.
        /// </summary>
        public IPAddress ReflectionAddress { get; set; } = IPAddress.Any;

        public RouterState Read() => Read(new UciRedirectApplier(Session).Read());

        public RouterState Read(UciState held)
        {
            var state = new UciRouterState(held);
            foreach (string stray in held.Strays)
                state.Problems.Add($"section firewall.{stray} has BypassNat's prefix but is not a redirect it writes; the next apply deletes it");
            foreach (UciRedirect redirect in held.Redirects)
            {
                BypassForward forward = ToForward(redirect);
                if (forward == null)
                {
                    state.Problems.Add($"redirect firewall.{redirect.Section} ({redirect}) is not one BypassNat writes; the next apply writes it afresh");
                    continue;
                }

                // A disabled section holds no forward (as a disabled row applies none).
                if (!forward.Enabled) continue;
                if (!UciRedirect.From(forward, WanZone, LanZone).Equals(redirect))
                    state.Problems.Add($"redirect firewall.{redirect.Section} ({redirect}) was changed outside BypassNat (other zones or options); the next apply writes it afresh");
                state.Forwards.Add(Shape(forward));
            }

            return state;
        }

        /// <summary>A forward as a UCI redirect can hold it: no comment, reflection on the WAN zone's address.</summary>
        public BypassForward Shape(BypassForward forward) => new BypassForward(
            forward.Name, forward.Protocol, forward.ExternalPort, forward.BypassAddress, forward.BypassPort,
            forward.InternalAddress, forward.InternalPort, forward.SourceNat, string.Empty, forward.Enabled,
            forward.PublicAddress == null ? null : ReflectionAddress, forward.AllowedSource);

        public BackendWriteOutcome Write(BackendWrite write) =>
            new BackendWriteOutcome(0, new UciRedirectApplier(Session).Apply(write.Desired, WanZone, LanZone).Warnings);

        /// <summary>Deletes every section named with BypassNat's prefix (the user's own stay), committed and reloaded as one step.</summary>
        public void Remove(RouterState current)
        {
            if (!current.Present) return;
            new UciRedirectApplier(Session).Apply(new BypassForward[0], WanZone, LanZone);
        }

        /// <summary>The forward a redirect of ours stands for, in the main hop's shape; null when it is not one BypassNat could have written.</summary>
        private static BypassForward ToForward(UciRedirect redirect)
        {
            IReadOnlyDictionary<string, string> o = redirect.Options;
            string Get(string option) => o.TryGetValue(option, out string value) ? value : null;
            ForwardProtocol protocol;
            switch (Get("proto"))
            {
                case "tcp": protocol = ForwardProtocol.Tcp; break;
                case "udp": protocol = ForwardProtocol.Udp; break;
                case "tcp udp": protocol = ForwardProtocol.TcpUdp; break;
                default: return null;
            }

            if (Get("target") != "DNAT" || Get("src_dport") == null || Get("dest_port") == null) return null;
            if (!PortRange.TryParse(Get("src_dport"), out PortRange external, out _) || !PortRange.TryParse(Get("dest_port"), out PortRange bypassPort, out _)) return null;
            if (!IPAddress.TryParse(Get("dest_ip") ?? "", out IPAddress bypass) || bypass.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork) return null;
            SourceSet sources = SourceSet.Any;
            if (Get("src_ip") != null)
            {
                // BypassNat never writes src_ip beside reflection (see UciRedirect.From).
                if (!ForwardParser.TryListedPrefix(Get("src_ip"), out Ipv4Prefix source) || Get("reflection") == "1") return null;
                sources = SourceSet.Of(new[] { source });
            }

            return new BypassForward(redirect.Name, protocol, external, bypass, bypassPort, bypass, bypassPort, false, string.Empty,
                redirect.Enabled, Get("reflection") == "1" ? IPAddress.Any : null, sources);
        }
    }
}
