using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;

namespace BypassNat.Ssh
{
    /// <summary>
    /// The private keys OpenSSH's client tries when none is named, in its order: ~/.ssh/id_ed25519,
    /// id_ecdsa, id_rsa (those that exist). Users expect a tool that logs in like ssh to find them.
    /// </summary>
    public static class DefaultIdentities
    {
        public static readonly IReadOnlyList<string> FileNames = new[] { "id_ed25519", "id_ecdsa", "id_rsa" };

        /// <summary>~/.ssh, read from HOME (USERPROFILE on Windows) each time, as ssh does.</summary>
        public static string Directory => Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".ssh");

        /// <summary>OpenSSH's default known_hosts file.</summary>
        public static string KnownHostsFile => Path.Combine(Directory, "known_hosts");

        public static IReadOnlyList<string> Existing() =>
            FileNames.Select(name => Path.Combine(Directory, name)).Where(File.Exists).ToList();

        public static string Describe() => string.Join(", ", FileNames.Select(name => Path.Combine(Directory, name)));
    }
}
