using System.Text.RegularExpressions;

namespace BypassNat
{
    /// <summary>What the main router's half of a forward is.</summary>
    public static class MainHop
    {
        /// <summary>
        /// The main router knows nothing of the device: its "internal" side is the bypass router, and it
        /// never source-NATs internet clients. A forward read back from the main router has this shape,
        /// so the desired set is compared in it too.
        /// </summary>
        public static BypassForward Project(BypassForward forward) => new BypassForward(
            forward.Name, forward.Protocol, forward.ExternalPort, forward.BypassAddress, forward.BypassPort,
            forward.BypassAddress, forward.BypassPort, false, forward.Comment, forward.Enabled, forward.PublicAddress, forward.AllowedSource);

        // Linux interface names: at most 15 bytes. Only the characters routers use, so the name can
        // travel inside a quoted nft string and an iptables word without any escaping.
        private static readonly Regex InterfaceName = new Regex(@"^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$", RegexOptions.CultureInvariant);

        public static bool IsValidInterface(string name) => name != null && InterfaceName.IsMatch(name);

        public static void RequireInterface(string name, string what)
        {
            if (!IsValidInterface(name))
                throw new BypassNatException("BypassNat.InvalidInterface", FailureKind.InvalidData,
                    $"{what} '{name}' is not a network interface name (letters, digits, '.', '_', '-'; at most 15 characters).", name);
        }
    }
}
