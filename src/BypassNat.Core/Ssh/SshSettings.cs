using System;
using System.Collections.Generic;

namespace BypassNat.Ssh
{
    /// <summary>How to reach and trust one router. Secrets stay in memory only and are never printed.</summary>
    public sealed class SshSettings
    {
        public string ComputerName { get; set; }
        public int Port { get; set; } = 22;
        public string UserName { get; set; } = "root";
        public string KeyFile { get; set; }
        public string KeyPassphrase { get; set; }
        public string Password { get; set; }

        /// <summary>Accepted host key fingerprints, as <c>ssh-keygen -l</c> prints them ("SHA256:...").</summary>
        public IList<string> HostKeyFingerprints { get; set; } = new List<string>();

        /// <summary>An OpenSSH known_hosts file to trust keys from; null means ~/.ssh/known_hosts when no fingerprint is given.</summary>
        public string KnownHostsFile { get; set; }

        /// <summary>
        /// OpenSSH's StrictHostKeyChecking=accept-new: a host with no key on file is trusted and its key
        /// appended to the known_hosts file; a host whose key changed is still refused.
        /// </summary>
        public bool AcceptNewHostKey { get; set; }

        /// <summary>Run the privileged commands through <c>sudo -n</c> (for a non-root login).</summary>
        public bool UseSudo { get; set; }

        /// <summary>
        /// The key a reopened session must present: the one it was first opened with. A session never
        /// follows a changed host key, whatever the known_hosts file says by then.
        /// </summary>
        public string PinnedFingerprint { get; set; }

        public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(15);

        /// <summary>
        /// How long one script may run on the router before the command is abandoned with
        /// BypassNat.CommandTimeout (a router that hangs, a lock held by a stuck writer).
        /// </summary>
        public TimeSpan CommandTimeout { get; set; } = TimeSpan.FromMinutes(5);

        /// <summary>How often an idle connection sends an SSH keep-alive.</summary>
        public TimeSpan KeepAliveInterval { get; set; } = TimeSpan.FromSeconds(15);

        public SshSettings Copy()
        {
            var copy = (SshSettings)MemberwiseClone();
            copy.HostKeyFingerprints = new List<string>(HostKeyFingerprints ?? new List<string>());
            return copy;
        }

        public string Endpoint => Port == 22 ? ComputerName : $"{ComputerName}:{Port}";
    }
}
