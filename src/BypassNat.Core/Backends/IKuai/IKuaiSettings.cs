using System;
using System.Collections.Generic;

namespace BypassNat.Backends.IKuai
{
    public enum IKuaiApiVersion
    {
        /// <summary>3.x: a web UI user logs in (/Action/login), then /Action/call with the session cookie.</summary>
        V3,

        /// <summary>4.x: an API token (Bearer) on /api/v4.0, over HTTPS.</summary>
        V4,
    }

    /// <summary>How to reach one iKuai router's web API and how to trust it.</summary>
    public sealed class IKuaiSettings
    {
        public string ComputerName { get; set; }
        public IKuaiApiVersion Version { get; set; }

        /// <summary>HTTPS (pinned); 3.x's web UI also answers plain HTTP, which is allowed only with a warning.</summary>
        public bool UseHttps { get; set; } = true;

        /// <summary>0: 443 for HTTPS, 80 for HTTP.</summary>
        public int Port { get; set; }

        public string UserName { get; set; }
        public string Password { get; set; }
        public string ApiToken { get; set; }

        /// <summary>Accepted SHA-256 fingerprints of the router's certificate, as openssl prints them (colons optional).</summary>
        public IReadOnlyList<string> CertificateFingerprints { get; set; } = new string[0];

        /// <summary>Trust a router with no certificate on file yet, and remember it (as ssh's accept-new).</summary>
        public bool AcceptNewCertificate { get; set; }

        /// <summary>Where remembered certificates are kept: beside the known_hosts file the module uses.</summary>
        public string KnownCertificatesFile { get; set; }

        /// <summary>The WAN the mappings listen on ("all" when null).</summary>
        public string WanInterface { get; set; }

        public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(30);

        /// <summary>Told of each request and write call (method, path, what; never a body), for -Verbose.</summary>
        public Action<string> Trace { get; set; }

        /// <summary>Ctrl-C: abandons the request under way.</summary>
        public System.Threading.CancellationToken Cancel { get; set; }

        public int EffectivePort => Port != 0 ? Port : UseHttps ? 443 : 80;

        /// <summary>The router as messages name it: no user, no secret.</summary>
        public string Endpoint => (UseHttps ? "https://" : "http://") + (ComputerName.Contains(":") ? "[" + ComputerName + "]" : ComputerName) + ":" + EffectivePort;

        /// <summary>The key of this router in the known-certificates file.</summary>
        public string CertificateKey => (ComputerName.Contains(":") ? "[" + ComputerName + "]" : ComputerName) + ":" + EffectivePort;
    }
}
