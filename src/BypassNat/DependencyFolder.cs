using System;
using System.IO;
using System.Reflection;

namespace BypassNat.Commands
{
    /// <summary>
    /// Where BypassNat's own dependencies live (the module's dependencies/ folder), and the whole of
    /// what Windows PowerShell 5.1 does to find them: an AppDomain resolver that answers only for the
    /// assemblies in that folder and leaves every other request to whoever else is asking.
    /// </summary>
    internal static class DependencyFolder
    {
        public const string Name = "dependencies";

        /// <summary>The file to load for <paramref name="requested"/>, or null when the folder does not hold it.</summary>
        public static string PathFor(string folder, AssemblyName requested)
        {
            string name = requested?.Name;
            if (string.IsNullOrEmpty(name) || name.IndexOfAny(Path.GetInvalidFileNameChars()) >= 0 || name.Contains("..")) return null;
            string path = Path.Combine(folder, name + ".dll");
            return File.Exists(path) ? path : null;
        }

        /// <summary>The AssemblyResolve handler for Windows PowerShell 5.1.</summary>
        public static ResolveEventHandler Resolver(string folder) => (sender, args) =>
        {
            string path = PathFor(folder, new AssemblyName(args.Name));
            return path == null ? null : Assembly.LoadFrom(path);
        };
    }
}
