using System.IO;
using System.Net;

namespace BypassNat.Tests
{
    /// <summary>
    /// The example set every golden file was rendered from, and the files. The files were checked by
    /// hand and by the kernel (nft -f, iptables-restore --test); example.nft-list is what nft -nn
    /// listed after loading example.nft.
    /// </summary>
    internal static class Golden
    {
        public static BypassForward[] ExampleSet() => new[]
        {
            Forwards.Make("web", "tcp", "8080", internalPort: "80", comment: "NAS web UI").WithPublicAddress(IPAddress.Parse("203.0.113.1")),
            Forwards.Make("voip", "tcpudp", "9001-9002", bypassPort: "19001-19002", internalPort: "9001-9002"),
            Forwards.Make("far", "tcp", "2222", internalAddress: "198.51.100.7", internalPort: "22", sourceNat: "true"),
            Forwards.Make("off", "udp", "5000", enabled: "false"),
        };

        public static RenderContext Lan() => new RenderContext(new[] { new Ipv4Prefix(IPAddress.Parse("192.0.2.0"), 24) });

        public static string Read(string name) => File.ReadAllText(Path.Combine(System.AppContext.BaseDirectory, "Golden", name));
    }
}
