using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.RegularExpressions;
using Xunit;

namespace BypassNat.Tests
{
    /// <summary>
    /// Keeps the layer map in docs/ARCHITECTURE.md true: every folder of src/BypassNat.Core is named
    /// there, nothing named there is gone, and no folder uses one the map places above it. The map is
    /// the one source: the lines of its code block that name a core folder ("  Apply/  ..."), from the
    /// top layer down. A folder's dependencies are read from its source, the way a reader sees them:
    /// its <c>using BypassNat.X</c> directives and every name of a type another folder declares,
    /// comments and strings left out.
    /// </summary>
    public class LayerMapTests
    {
        private static readonly string Root = FindRoot();
        private static readonly string Core = Path.Combine(Root, "src", "BypassNat.Core");

        [Fact]
        public void Every_core_folder_is_on_the_map_and_the_map_names_no_folder_that_is_gone()
        {
            List<string> map = LayerMap();
            var folders = SourceFiles().Select(f => f.Folder).Distinct(StringComparer.Ordinal).ToList();

            var unnamed = folders.Except(map, StringComparer.Ordinal).OrderBy(f => f, StringComparer.Ordinal).ToList();
            var gone = map.Except(folders, StringComparer.Ordinal).ToList();
            var twice = map.GroupBy(f => f, StringComparer.Ordinal).Where(g => g.Count() > 1).Select(g => g.Key).ToList();

            Assert.True(unnamed.Count == 0, "folders of src/BypassNat.Core the layer map in docs/ARCHITECTURE.md does not name: " + string.Join(", ", unnamed));
            Assert.True(gone.Count == 0, "the layer map names folders src/BypassNat.Core no longer has: " + string.Join(", ", gone));
            Assert.True(twice.Count == 0, "the layer map names a folder twice: " + string.Join(", ", twice));
        }

        [Fact]
        public void No_folder_uses_one_the_map_places_above_it_and_no_backend_uses_another()
        {
            List<string> map = LayerMap();
            var wrong = new List<string>();
            foreach (var edge in Dependencies())
            {
                int from = map.IndexOf(edge.Key.From), to = map.IndexOf(edge.Key.To);
                if (from < 0 || to < 0) continue; // the other test names the folder
                string why = to < from ? "which the map places above it"
                    : IsBackend(edge.Key.From) && IsBackend(edge.Key.To) ? "another backend (a backend stands alone)"
                    : null;
                if (why != null) wrong.Add($"{edge.Key.From} uses {edge.Key.To}, {why}: {string.Join(", ", edge.Value.Take(6))}");
            }

            Assert.True(wrong.Count == 0, "dependencies against docs/ARCHITECTURE.md's layer map:" + Environment.NewLine + string.Join(Environment.NewLine, wrong));
        }

        [Fact]
        public void The_dependency_reader_sees_usings_qualified_names_and_types_but_not_comments_or_strings()
        {
            var types = new Dictionary<string, string> { ["RouterSession"] = "Ssh", ["BypassForward"] = "Model", ["IptablesRenderer"] = "Backends/Iptables" };
            string source = "using BypassNat.Apply;\nnamespace BypassNat.Proxy {\n// RouterSession in a comment\n/* IptablesRenderer */\n" +
                "class A { string s = \"RouterSession\"; string v = @\"IptablesRenderer\"\"x\"; BypassForward f; object o = BypassNat.Backends.Iptables.IptablesRenderer.Render; char c = '\"'; } }";

            var used = UsedFolders("Proxy", source, types).Keys.OrderBy(f => f, StringComparer.Ordinal).ToList();

            Assert.Equal(new[] { "Apply", "Backends/Iptables", "Model" }, used);
        }

        private static bool IsBackend(string folder) => folder.StartsWith("Backends/", StringComparison.Ordinal);

        /// <summary>The core folders the map's code block names, top layer first.</summary>
        private static List<string> LayerMap()
        {
            string doc = File.ReadAllText(Path.Combine(Root, "docs", "ARCHITECTURE.md"));
            Match layers = Regex.Match(doc, @"^## Layers\s*\n```\n(?<block>.*?)\n```", RegexOptions.Singleline | RegexOptions.Multiline);
            Assert.True(layers.Success, "docs/ARCHITECTURE.md has no code block under '## Layers'");
            return Regex.Matches(layers.Groups["block"].Value, @"^  (?<folder>[A-Za-z][A-Za-z0-9]*(?:/[A-Za-z][A-Za-z0-9]*)*)/(?:\s|$)", RegexOptions.Multiline)
                .Cast<Match>().Select(m => m.Groups["folder"].Value).ToList();
        }

        private static Dictionary<(string From, string To), List<string>> Dependencies()
        {
            var files = SourceFiles();
            var declared = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var file in files)
            foreach (string type in TopLevelTypes(file.Code))
            {
                Assert.False(declared.TryGetValue(type, out string other) && other != file.Folder,
                    $"type {type} is declared in both {other}/ and {file.Folder}/: the layer test cannot tell which one a file means");
                declared[type] = file.Folder;
            }

            var edges = new Dictionary<(string, string), List<string>>();
            foreach (var file in files)
            foreach (var used in UsedFolders(file.Folder, file.Code, declared))
            {
                if (!edges.TryGetValue((file.Folder, used.Key), out List<string> why)) edges[(file.Folder, used.Key)] = why = new List<string>();
                why.AddRange(used.Value.Select(name => $"{file.Name} ({name})"));
            }

            return edges;
        }

        /// <summary>The other folders a file uses, each with the names that show it.</summary>
        private static Dictionary<string, List<string>> UsedFolders(string folder, string code, IReadOnlyDictionary<string, string> declared)
        {
            string text = WithoutCommentsAndStrings(code);
            var used = new Dictionary<string, List<string>>(StringComparer.Ordinal);
            void Use(string to, string name)
            {
                if (to == folder) return;
                if (!used.TryGetValue(to, out List<string> names)) used[to] = names = new List<string>();
                if (!names.Contains(name)) names.Add(name);
            }

            foreach (Match m in Regex.Matches(text, @"^\s*using\s+(?:static\s+)?(?<ns>BypassNat(?:\.\w+)*)\s*;", RegexOptions.Multiline))
                Use(FolderOf(m.Groups["ns"].Value), "using " + m.Groups["ns"].Value);
            foreach (Match m in Regex.Matches(text, @"\b[A-Za-z_]\w*\b"))
                if (declared.TryGetValue(m.Value, out string to)) Use(to, m.Value);
            return used;
        }

        /// <summary>Namespaces follow folders; the model keeps the root namespace users name its types by ([BypassNat.BypassForward]).</summary>
        private static string FolderOf(string ns) => ns == "BypassNat" ? "Model" : ns.Substring("BypassNat.".Length).Replace('.', '/');

        private static IEnumerable<string> TopLevelTypes(string code)
        {
            string text = WithoutCommentsAndStrings(code);
            int depth = 0;
            foreach (Match m in Regex.Matches(text, @"[{}]|\b(?:class|struct|interface|enum)\s+(?<name>[A-Za-z_]\w*)"))
            {
                if (m.Value == "{") depth++;
                else if (m.Value == "}") depth--;
                else if (depth == 1) yield return m.Groups["name"].Value;
            }
        }

        // Enough of C#'s lexing for this: // and /* */ comments, "..." with escapes, @"..." and
        // $@"..." verbatim strings with "" inside, and character literals.
        private static string WithoutCommentsAndStrings(string code)
        {
            var text = new StringBuilder(code.Length);
            int i = 0;
            while (i < code.Length)
            {
                char c = code[i];
                if (c == '/' && i + 1 < code.Length && code[i + 1] == '/')
                {
                    while (i < code.Length && code[i] != '\n') i++;
                }
                else if (c == '/' && i + 1 < code.Length && code[i + 1] == '*')
                {
                    int end = code.IndexOf("*/", i + 2, StringComparison.Ordinal);
                    i = end < 0 ? code.Length : end + 2;
                    text.Append(' ');
                }
                else if (c == '"' || c == '\'')
                {
                    bool verbatim = false;
                    for (int k = i - 1; k >= 0 && (code[k] == '@' || code[k] == '$'); k--) verbatim |= code[k] == '@';
                    i++;
                    while (i < code.Length)
                    {
                        if (verbatim && code[i] == '"' && i + 1 < code.Length && code[i + 1] == '"') { i += 2; continue; }
                        if (!verbatim && code[i] == '\\') { i += 2; continue; }
                        if (code[i] == c) break;
                        i++;
                    }

                    i++;
                    text.Append(c).Append(c);
                }
                else
                {
                    text.Append(c);
                    i++;
                }
            }

            return text.ToString();
        }

        private static List<(string Folder, string Name, string Code)> SourceFiles() =>
            Directory.EnumerateFiles(Core, "*.cs", SearchOption.AllDirectories)
                .Select(path => (Relative: Path.GetRelativePath(Core, path).Replace(Path.DirectorySeparatorChar, '/'), Path: path))
                .Where(f => !f.Relative.StartsWith("obj/", StringComparison.Ordinal) && !f.Relative.StartsWith("bin/", StringComparison.Ordinal))
                .Select(f => (Folder: f.Relative.Contains('/') ? f.Relative.Substring(0, f.Relative.LastIndexOf('/')) : "(the project's own folder)",
                    Name: Path.GetFileName(f.Path), Code: File.ReadAllText(f.Path)))
                .ToList();

        private static string FindRoot()
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "docs", "ARCHITECTURE.md")) && Directory.Exists(Path.Combine(dir.FullName, "src", "BypassNat.Core")))
                    return dir.FullName;
            throw new InvalidOperationException("the test runs outside a BypassNat clone: no docs/ARCHITECTURE.md above " + AppContext.BaseDirectory);
        }
    }
}
