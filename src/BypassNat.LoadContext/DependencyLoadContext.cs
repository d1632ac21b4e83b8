using System;
using System.Collections.Generic;
using System.IO;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Runtime.Loader;

namespace BypassNat.LoadContext
{
    /// <summary>
    /// BypassNat's own load context on PowerShell 7: SSH.NET, BouncyCastle and the rest load here from
    /// the module's dependencies/ folder, so another module's copy of them (any version, loaded before
    /// or after) never meets ours. What the default context must share with us (BypassNat.Core, whose
    /// types the cmdlets and the user's scripts see) and what the platform already provides at the
    /// version asked for comes from the default context.
    /// </summary>
    public sealed class DependencyLoadContext : AssemblyLoadContext
    {
        private static readonly object Gate = new object();
        private static readonly Dictionary<string, DependencyLoadContext> ByFolder = new Dictionary<string, DependencyLoadContext>(StringComparer.Ordinal);

        private readonly string _folder;
        private readonly Dictionary<string, string> _platform;
        private readonly Dictionary<string, Version> _platformVersions = new Dictionary<string, Version>(StringComparer.OrdinalIgnoreCase);

        private DependencyLoadContext(string folder) : base("BypassNat", isCollectible: false)
        {
            _folder = folder;
            _platform = PlatformAssemblies();
        }

        /// <summary>Loads an assembly of the dependencies folder (one context per folder, so a re-import reuses it).</summary>
        public static Assembly LoadDependency(string folder, string assemblyName)
        {
            DependencyLoadContext context;
            lock (Gate)
            {
                string key = Path.GetFullPath(folder);
                if (!ByFolder.TryGetValue(key, out context)) ByFolder[key] = context = new DependencyLoadContext(key);
            }

            return context.LoadFromAssemblyName(new AssemblyName(assemblyName));
        }

        protected override Assembly Load(AssemblyName name)
        {
            string path = Path.Combine(_folder, name.Name + ".dll");
            if (!File.Exists(path)) return null;
            // The framework's System.Memory or System.Formats.Asn1 is the one every other assembly
            // shares; a private copy would make types that look the same but are not.
            if (PlatformVersion(name.Name) is Version provided && (name.Version == null || provided >= name.Version)) return null;
            // The same assembly compiled ahead of time for this platform (build.ps1 makes it for
            // linux-x64): SSH.NET's and BouncyCastle's key exchange JIT-compiled cost a fresh process
            // more than the connection itself. It holds the same IL, so the runtime falls back to it.
            string native = Path.Combine(_folder, RuntimeInformation.RuntimeIdentifier, name.Name + ".dll");
            return LoadFromAssemblyPath(File.Exists(native) ? native : path);
        }

        // The platform's assemblies by name, from the list the host started with: only the paths. Reading
        // every one's version at import (about 230 files) was a tenth of a second of the module's start;
        // the few names the dependencies folder also holds are read when asked for.
        private static Dictionary<string, string> PlatformAssemblies()
        {
            var found = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            string list = AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES") as string ?? string.Empty;
            foreach (string path in list.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
                if (path.EndsWith(".dll", StringComparison.OrdinalIgnoreCase)) found[Path.GetFileNameWithoutExtension(path)] = path;
            return found;
        }

        private Version PlatformVersion(string name)
        {
            lock (_platformVersions)
            {
                if (_platformVersions.TryGetValue(name, out Version known)) return known;
                Version version = null;
                if (_platform.TryGetValue(name, out string path))
                {
                    try
                    {
                        version = AssemblyName.GetAssemblyName(path).Version;
                    }
                    catch (Exception e) when (e is BadImageFormatException || e is IOException)
                    {
                        // Native images in the list are not assemblies.
                    }
                }

                _platformVersions[name] = version;
                return version;
            }
        }
    }
}
