using System;
using System.IO;
using System.Management.Automation;
using System.Reflection;
using System.Runtime.InteropServices;
using BypassNat.Ssh;

namespace BypassNat.Commands
{
    /// <summary>
    /// Loads BypassNat's SSH implementation and its dependencies (SSH.NET, BouncyCastle, ...) from the
    /// module's dependencies/ folder without putting them where other modules' copies live: in a load
    /// context of its own on PowerShell 7, through a resolver limited to that folder on Windows
    /// PowerShell 5.1. This assembly and BypassNat.Core stay in the default context, so
    /// [BypassNat.BypassForward] and the other types resolve by name as usual.
    /// </summary>
    public sealed class ModuleInitializer : IModuleAssemblyInitializer
    {
        private const string SshAssembly = "BypassNat.SshNet";
        private const string ConnectorType = "BypassNat.SshNet.SshNetConnector";
        private static readonly object Gate = new object();
        private static bool s_resolverAdded;

        public void OnImport()
        {
            string root = Path.GetDirectoryName(typeof(ModuleInitializer).Assembly.Location);
            string folder = Path.Combine(root, DependencyFolder.Name);
            Assembly ssh = RuntimeInformation.FrameworkDescription.StartsWith(".NET Framework", StringComparison.Ordinal)
                ? LoadOnWindowsPowerShell(folder)
                : LoadInOwnContext(root, folder);
            RouterSession.Connector = (IRouterConnector)Activator.CreateInstance(ssh.GetType(ConnectorType, throwOnError: true));
        }

        private static Assembly LoadInOwnContext(string root, string folder)
        {
            Assembly context = Assembly.LoadFrom(Path.Combine(root, "BypassNat.LoadContext.dll"));
            MethodInfo load = context.GetType("BypassNat.LoadContext.DependencyLoadContext", throwOnError: true).GetMethod("LoadDependency");
            return (Assembly)load.Invoke(null, new object[] { folder, SshAssembly });
        }

        private static Assembly LoadOnWindowsPowerShell(string folder)
        {
            lock (Gate)
            {
                if (!s_resolverAdded) AppDomain.CurrentDomain.AssemblyResolve += DependencyFolder.Resolver(folder);
                s_resolverAdded = true;
            }

            return Assembly.LoadFrom(Path.Combine(folder, SshAssembly + ".dll"));
        }
    }
}
