namespace BypassNat.Validation
{
    /// <summary>
    /// A forward as the user wrote it (a CSV row, parameters): every field is still text.
    /// <see cref="ForwardParser"/> turns it into a <see cref="BypassForward"/> or says why not.
    /// </summary>
    public sealed class ForwardInput
    {
        public string Name { get; set; }
        public string Protocol { get; set; }
        public string ExternalPort { get; set; }
        public string BypassAddress { get; set; }
        public string BypassPort { get; set; }
        public string InternalAddress { get; set; }
        public string InternalPort { get; set; }
        public string SourceNat { get; set; }
        public string Comment { get; set; }
        public string Enabled { get; set; }
        public string PublicAddress { get; set; }

        /// <summary>IPv4 addresses and prefixes separated by blanks, ';' or ','; empty for every client.</summary>
        public string AllowedSource { get; set; }

        /// <summary>The device's IPv6 interface identifier (::20) or full address; empty for an IPv4-only forward.</summary>
        public string InternalIPv6 { get; set; }

        /// <summary>IPv6 addresses and prefixes only (as Export-Csv writes them); AllowedSource may hold them too.</summary>
        public string AllowedSourceIPv6 { get; set; }
    }
}
