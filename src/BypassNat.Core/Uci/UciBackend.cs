using System.Collections.Generic;
using System.Linq;
using System.Net;
using BypassNat.Backends;
using BypassNat.Ssh;

namespace BypassNat.Uci
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
    public sealed class UciBackend : IRouterBackend
    {
        public UciBackend(string wanZone = "wan", string lanZone = "lan")
        {
            WanZone = wanZone;
            LanZone = lanZone;
        }

        public BackendKind Kind => BackendKind.Uci;

        /// <summary>The firewall zones the redirects go from and to (OpenWrt's defaults: wan, lan).</summary>
        public string WanZone { get; set; }
        public string LanZone { get; set; }

        /// <summary>
        /// The address firewall4's reflection answers on (the WAN interface's first address, as
        /// firewall4 finds it); 0.0.0.0 when the WAN side is unknown.
        /// </summary>
        public IPAddress ReflectionAddress { get; set; } = IPAddress.Any;

        public RouterState Read(RouterSession session) => Read(new UciRedirectApplier(session).Read());

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

        public int Write(RouterSession session, IReadOnlyList<BypassForward> desired, RenderContext context, RouterState current,
            IEnumerable<BypassForward> touched, out IReadOnlyList<string> warnings)
        {
            warnings = new UciRedirectApplier(session).Apply(desired, WanZone, LanZone).Warnings;
            return 0;
        }

        /// <summary>Deletes every section named with BypassNat's prefix (the user's own stay), committed and reloaded as one step.</summary>
        public void Remove(RouterSession session, RouterState current)
        {
            if (!current.Present) return;
            new UciRedirectApplier(session).Apply(new BypassForward[0], WanZone, LanZone);
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
                if (!Nftables.NftablesSources.TryPrefix(Get("src_ip"), out Ipv4Prefix source) || Get("reflection") == "1") return null;
                sources = SourceSet.Of(new[] { source });
            }

            return new BypassForward(redirect.Name, protocol, external, bypass, bypassPort, bypass, bypassPort, false, string.Empty,
                redirect.Enabled, Get("reflection") == "1" ? IPAddress.Any : null, sources);
        }
    }
}
