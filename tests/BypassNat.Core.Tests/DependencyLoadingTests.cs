using System;
using System.IO;
using System.Reflection;
using System.Reflection.Emit;
using System.Runtime.Loader;
using BypassNat.Commands;
using BypassNat.LoadContext;
using Xunit;

namespace BypassNat.Tests
{
    /// <summary>
    /// How the module finds its dependencies: the PowerShell 7 load context (run here for real) and the
    /// Windows PowerShell 5.1 resolver's choice of file (5.1 itself cannot run here).
    /// </summary>
    public sealed class DependencyLoadingTests : IDisposable
    {
        private readonly string _folder = Path.Combine(Path.GetTempPath(), "bypassnat-deps-" + Guid.NewGuid().ToString("N"));

        public DependencyLoadingTests()
        {
            Directory.CreateDirectory(_folder);
        }

        public void Dispose() => Directory.Delete(_folder, true);

        private void Put(Assembly assembly) => File.Copy(assembly.Location, Path.Combine(_folder, Path.GetFileName(assembly.Location)));

        // An assembly the test host does not already have: the version that "another module" loaded
        // into the default context, and BypassNat's newer one of the same name.
        private static string Emit(string folder, Version version)
        {
            Directory.CreateDirectory(folder);
            var builder = new PersistedAssemblyBuilder(new AssemblyName("BypassNat.TestDependency") { Version = version }, typeof(object).Assembly);
            builder.DefineDynamicModule("BypassNat.TestDependency").DefineType("Marker", TypeAttributes.Public).CreateType();
            string path = Path.Combine(folder, "BypassNat.TestDependency.dll");
            builder.Save(path);
            return path;
        }

        [Fact]
        public void ADependencyLoadsInBypassNatsOwnContextBesideAnotherVersionInTheDefaultOne()
        {
            Assembly theirs = AssemblyLoadContext.Default.LoadFromAssemblyPath(Emit(Path.Combine(_folder, "other"), new Version(2024, 2, 0, 1)));
            Emit(_folder, new Version(2026, 0, 0, 1));
            Assembly ours = DependencyLoadContext.LoadDependency(_folder, "BypassNat.TestDependency, Version=2026.0.0.1");
            Assert.Equal(new Version(2026, 0, 0, 1), ours.GetName().Version);
            Assert.Equal(new Version(2024, 2, 0, 1), theirs.GetName().Version);
            Assert.Equal("BypassNat", AssemblyLoadContext.GetLoadContext(ours).Name);
            Assert.Same(AssemblyLoadContext.Default, AssemblyLoadContext.GetLoadContext(theirs));
            // Asking again (a second Import-Module) gives the same assembly, not a third copy.
            Assert.Same(ours, DependencyLoadContext.LoadDependency(_folder, "BypassNat.TestDependency"));
        }

        [Fact]
        public void WhatThePlatformProvidesComesFromThePlatform()
        {
            Assembly platform = typeof(System.Buffers.ArrayPool<byte>).Assembly;
            Put(platform);
            Assembly loaded = DependencyLoadContext.LoadDependency(_folder, platform.GetName().Name);
            Assert.Same(AssemblyLoadContext.Default, AssemblyLoadContext.GetLoadContext(loaded));
        }

        [Fact]
        public void TheWindowsPowerShellResolverAnswersOnlyForFilesInTheFolder()
        {
            File.WriteAllText(Path.Combine(_folder, "Renci.SshNet.dll"), "stand-in");
            Assert.Equal(Path.Combine(_folder, "Renci.SshNet.dll"),
                DependencyFolder.PathFor(_folder, new AssemblyName("Renci.SshNet, Version=2026.0.0.1, Culture=neutral, PublicKeyToken=1cee9f8bde3db106")));
            Assert.Null(DependencyFolder.PathFor(_folder, new AssemblyName("Newtonsoft.Json, Version=13.0.0.0")));
            Assert.Null(DependencyFolder.PathFor(_folder, new AssemblyName("System.Management.Automation")));
            Assert.Null(DependencyFolder.PathFor(_folder, new AssemblyName { Name = "../Renci.SshNet" }));
        }

        [Fact]
        public void TheWindowsPowerShellResolverLeavesOtherRequestsToOthers()
        {
            ResolveEventHandler resolve = DependencyFolder.Resolver(_folder);
            Assert.Null(resolve(null, new ResolveEventArgs("Some.Other.Module, Version=1.0.0.0")));
            Assert.Null(resolve(null, new ResolveEventArgs("Renci.SshNet, Version=2024.2.0.1, Culture=neutral, PublicKeyToken=1cee9f8bde3db106")));
        }
    }
}
