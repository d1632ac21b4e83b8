using System;
using System.Collections.Generic;
using System.Linq;
using System.Net.Http;
using System.Security.Cryptography;
using System.Text;

namespace BypassNat.Backends.IKuai
{
    /// <summary>
    /// The port-mapping calls BypassNat makes, one class a version of the API (<see cref="IKuaiApiV3"/>,
    /// <see cref="IKuaiApiV4"/>). Every call is one HTTP request (3.x may log in again once when its
    /// session expired); a refused call is a <see cref="BypassNatException"/> naming the call.
    /// </summary>
    public interface IIKuaiApi : IDisposable
    {
        string Describe { get; }

        /// <summary>How many write calls (add, edit, delete) were made, for the result and the tests.</summary>
        int WriteCalls { get; }

        /// <summary>How many HTTP requests went to the router (logins and reads too).</summary>
        int Requests { get; }

        IReadOnlyList<IKuaiMapping> List();

        /// <summary>Adds the mapping; returns its id when the router says it (otherwise the read-back finds it).</summary>
        string Add(IKuaiMapping mapping);

        void Edit(IKuaiMapping mapping);

        void Delete(string id);
    }

    /// <summary>What both versions share: the HTTP connection, the rows' JSON, errors.</summary>
    public abstract class IKuaiApi : IIKuaiApi
    {
        protected const int PageSize = 100;

        protected IKuaiApi(IKuaiSettings settings, IKuaiHttp http)
        {
            Settings = settings;
            Http = http;
        }

        protected IKuaiSettings Settings { get; }
        protected IKuaiHttp Http { get; }

        public abstract string Describe { get; }
        public int WriteCalls { get; protected set; }
        public int Requests => Http.Requests;

        public static IIKuaiApi Open(IKuaiSettings settings, Action<string> trace, System.Threading.CancellationToken cancel = default)
        {
            var http = new IKuaiHttp(settings, cancel) { Trace = trace };
            return settings.Version == IKuaiApiVersion.V3 ? (IIKuaiApi)new IKuaiApiV3(settings, http) : new IKuaiApiV4(settings, http);
        }

        public CertificateTrust Trust => Http.Trust;

        public abstract IReadOnlyList<IKuaiMapping> List();
        public abstract string Add(IKuaiMapping mapping);
        public abstract void Edit(IKuaiMapping mapping);
        public abstract void Delete(string id);

        /// <summary>A row of either version: ids and ports as numbers or strings, src_addr as text or as {custom, object}.</summary>
        public static IKuaiMapping Row(JsonValue row)
        {
            var mapping = new IKuaiMapping
            {
                Id = row["id"].AsText() ?? row["rowid"].AsText(),
                Enabled = (row["enabled"].AsText() ?? "yes") is string e && (e == "yes" || e == "true" || e == "1"),
                Comment = row["comment"].AsText() ?? string.Empty,
                Interface = row["interface"].AsText() ?? "all",
                LanAddress = row["lan_addr"].AsText() ?? string.Empty,
                Protocol = (row["protocol"].AsText() ?? string.Empty).ToLowerInvariant(),
                WanPort = row["wan_port"].AsText() ?? string.Empty,
                LanPort = row["lan_port"].AsText() ?? string.Empty,
                TagName = row["tagname"].AsText() ?? string.Empty,
            };
            JsonValue source = row["src_addr"];
            var sources = new List<string>();
            if (source.Kind == JsonKind.Object)
            {
                foreach (JsonValue item in source["custom"].Items.Concat(source["object"].Items))
                    sources.AddRange(Split(item.AsText() ?? item["value"].AsText() ?? item["name"].AsText()));
            }
            else if (source.Kind == JsonKind.Array)
            {
                foreach (JsonValue item in source.Items) sources.AddRange(Split(item.AsText()));
            }
            else
            {
                sources.AddRange(Split(source.AsText()));
            }

            mapping.Sources = sources;
            return mapping;
        }

        private static IEnumerable<string> Split(string text) =>
            (text ?? string.Empty).Split(new[] { ',', ' ', '\n' }, StringSplitOptions.RemoveEmptyEntries).Select(s => s.Trim());

        /// <summary>The fields both versions send, every value a string as the web UI sends them.</summary>
        protected static List<KeyValuePair<string, JsonValue>> Fields(IKuaiMapping mapping) => new List<KeyValuePair<string, JsonValue>>
        {
            Pair("enabled", JsonValue.Text(mapping.Enabled ? "yes" : "no")),
            Pair("comment", JsonValue.Text(mapping.Comment)),
            Pair("interface", JsonValue.Text(mapping.Interface)),
            Pair("lan_addr", JsonValue.Text(mapping.LanAddress)),
            Pair("protocol", JsonValue.Text(mapping.Protocol)),
            Pair("wan_port", JsonValue.Text(mapping.WanPort)),
            Pair("lan_port", JsonValue.Text(mapping.LanPort)),
        };

        protected static KeyValuePair<string, JsonValue> Pair(string name, JsonValue value) => new KeyValuePair<string, JsonValue>(name, value);

        protected JsonValue ParseAnswer(IKuaiAnswer answer, string what)
        {
            try
            {
                return JsonValue.Parse(answer.Body);
            }
            catch (FormatException e)
            {
                throw new BypassNatException("BypassNat.ApiError", FailureKind.InvalidResult,
                    $"The iKuai router {Settings.Endpoint} answered {what} with HTTP {answer.Status} and no JSON ({e.Message}). Is this an iKuai {(Settings.Version == IKuaiApiVersion.V3 ? "3.x" : "4.x")} web UI?",
                    Settings.Endpoint, e);
            }
        }

        protected BypassNatException ApiError(string what, string code, string message) =>
            new BypassNatException("BypassNat.ApiError", FailureKind.InvalidResult,
                $"The iKuai router {Settings.Endpoint} refused {what}: code {code}{(string.IsNullOrEmpty(message) ? "" : $" ({message})")}.",
                Settings.Endpoint);

        public void Dispose() => Http.Dispose();
    }

    /// <summary>
    /// iKuai 3.x: /Action/login with the web UI's password forms, then /Action/call with the
    /// <c>sess_key</c> cookie; every value a string. An expired session (Result 10014) logs in again once.
    /// </summary>
    public sealed class IKuaiApiV3 : IKuaiApi
    {
        public const int LoginSuccess = 10000;
        public const int CallSuccess = 30000;
        public const int NotLoggedIn = 10014;

        private string _session;

        public IKuaiApiV3(IKuaiSettings settings, IKuaiHttp http) : base(settings, http)
        {
        }

        public override string Describe => $"iKuai 3.x web API at {Settings.Endpoint} as {Settings.UserName}";

        /// <summary>md5 of the password in lower-case hex: the login's <c>passwd</c>.</summary>
        public static string PasswordHash(string password)
        {
            using (MD5 md5 = MD5.Create())
                return string.Concat(md5.ComputeHash(Encoding.UTF8.GetBytes(password ?? string.Empty)).Select(b => b.ToString("x2")));
        }

        /// <summary>The login's <c>pass</c> as the web UI computes it: base64 of "salt_11" and the password.</summary>
        public static string SaltedPassword(string password) =>
            Convert.ToBase64String(Encoding.UTF8.GetBytes("salt_11" + (password ?? string.Empty)));

        private void LogIn()
        {
            JsonValue body = JsonValue.Object(
                ("username", JsonValue.Text(Settings.UserName)),
                ("passwd", JsonValue.Text(PasswordHash(Settings.Password))),
                ("pass", JsonValue.Text(SaltedPassword(Settings.Password))),
                ("remember_password", JsonValue.Text("")));
            IKuaiAnswer answer = Http.Send(HttpMethod.Post, "/Action/login", body, null, "log in");
            JsonValue result = ParseAnswer(answer, "the login");
            long? code = result["Result"].AsNumber();
            if (code == LoginSuccess && answer.Cookies.TryGetValue("sess_key", out string session) && session.Length > 0)
            {
                _session = session;
                return;
            }

            if (code == LoginSuccess)
                throw new BypassNatException("BypassNat.ApiError", FailureKind.InvalidResult,
                    $"The iKuai router {Settings.Endpoint} accepted the login but set no sess_key cookie. Nothing was changed.", Settings.Endpoint);
            throw new BypassNatException("BypassNat.AuthenticationFailed", FailureKind.AuthenticationError,
                $"The iKuai router {Settings.Endpoint} refused the login of '{Settings.UserName}' (Result {code?.ToString() ?? "none"}: {result["ErrMsg"].AsText()}): wrong user name or password, or the user may not use the web UI. Nothing was changed; the router keeps its port mappings.",
                Settings.Endpoint);
        }

        private JsonValue Call(string action, JsonValue param, string what)
        {
            if (_session == null) LogIn();
            for (int attempt = 0; ; attempt++)
            {
                JsonValue body = JsonValue.Object(("func_name", JsonValue.Text("dnat")), ("action", JsonValue.Text(action)), ("param", param));
                var cookie = new[] { Pair("Cookie", $"username={Settings.UserName}; sess_key={_session}; login=1") };
                IKuaiAnswer answer = Http.Send(HttpMethod.Post, "/Action/call", body, cookie, what);
                JsonValue result = ParseAnswer(answer, what);
                long? code = result["Result"].AsNumber();
                if (code == CallSuccess) return result;
                if (code == NotLoggedIn && attempt == 0)
                {
                    // The session expired (or the router restarted): log in once more, as the web UI does.
                    LogIn();
                    continue;
                }

                throw ApiError(what, code?.ToString() ?? "none", result["ErrMsg"].AsText());
            }
        }

        private static KeyValuePair<string, string> Pair(string name, string value) => new KeyValuePair<string, string>(name, value);

        public override IReadOnlyList<IKuaiMapping> List()
        {
            var rows = new List<IKuaiMapping>();
            for (int offset = 0; ; offset += PageSize)
            {
                JsonValue param = JsonValue.Object(("TYPE", JsonValue.Text("total,data")), ("limit", JsonValue.Text($"{offset},{PageSize}")),
                    ("ORDER_BY", JsonValue.Text("")), ("ORDER", JsonValue.Text("")));
                JsonValue result = Call("show", param, "reading the port mappings (dnat show)");
                JsonValue data = result["Data"];
                IReadOnlyList<JsonValue> page = data.Kind == JsonKind.Array ? data.Items : data["data"].Items;
                rows.AddRange(page.Select(Row));
                long total = data["total"].AsNumber() ?? rows.Count;
                if (page.Count < PageSize || rows.Count >= total) return rows;
            }
        }

        private JsonValue Param(IKuaiMapping mapping, bool withId)
        {
            List<KeyValuePair<string, JsonValue>> fields = Fields(mapping);
            if (withId) fields.Insert(0, IKuaiApi.Pair("id", JsonValue.Text(mapping.Id)));
            fields.Add(IKuaiApi.Pair("src_addr", JsonValue.Text(string.Join(",", mapping.Sources))));
            return JsonValue.Object(fields);
        }

        public override string Add(IKuaiMapping mapping)
        {
            WriteCalls++;
            JsonValue result = Call("add", Param(mapping, false), $"adding the mapping {mapping.Describe()}");
            return result["RowId"].AsText() ?? result["rowid"].AsText() ?? result["Data"]["rowid"].AsText() ?? result["Data"]["id"].AsText();
        }

        public override void Edit(IKuaiMapping mapping)
        {
            WriteCalls++;
            Call("edit", Param(mapping, true), $"changing the mapping {mapping.Describe()}");
        }

        public override void Delete(string id)
        {
            WriteCalls++;
            Call("del", JsonValue.Object(("id", JsonValue.Text(id))), $"deleting the mapping {id}");
        }
    }

    /// <summary>iKuai 4.x: a Bearer token on /api/v4.0/network/dnat/rules; <c>code</c> 0 is success.</summary>
    public sealed class IKuaiApiV4 : IKuaiApi
    {
        public const string RulesPath = "/api/v4.0/network/dnat/rules";
        public const int TokenInvalid = 3007;
        public const int SessionExpired = 1008;

        public IKuaiApiV4(IKuaiSettings settings, IKuaiHttp http) : base(settings, http)
        {
        }

        public override string Describe => $"iKuai 4.x API at {Settings.Endpoint} with an API token";

        private JsonValue Request(HttpMethod method, string path, JsonValue body, string what)
        {
            var headers = new[] { new KeyValuePair<string, string>("Authorization", "Bearer " + Settings.ApiToken) };
            IKuaiAnswer answer = Http.Send(method, path, body, headers, what);
            if (answer.Status == 401 || answer.Status == 403)
                throw Refused(what, $"HTTP {answer.Status}");
            JsonValue result = ParseAnswer(answer, what);
            long? code = result["code"].AsNumber();
            if (code == 0 && answer.Status < 300) return result;
            if (code == TokenInvalid || code == SessionExpired) throw Refused(what, $"code {code}: {result["message"].AsText()}");
            throw ApiError(what, code?.ToString() ?? $"none, HTTP {answer.Status}", result["message"].AsText());
        }

        private BypassNatException Refused(string what, string why) =>
            new BypassNatException("BypassNat.TokenRefused", FailureKind.AuthenticationError,
                $"The iKuai router {Settings.Endpoint} refused the API token ({why}) when {what}: it is wrong, expired or revoked. Make a new one in the web UI (System -> Auth -> API Token). Nothing more was changed; the router keeps its port mappings as they were before this call.",
                Settings.Endpoint);

        public override IReadOnlyList<IKuaiMapping> List()
        {
            var rows = new List<IKuaiMapping>();
            for (int page = 1; ; page++)
            {
                JsonValue result = Request(HttpMethod.Get, $"{RulesPath}?page={page}&limit={PageSize}", null, "reading the port mappings");
                JsonValue results = result["results"];
                IReadOnlyList<JsonValue> items = results.Kind == JsonKind.Array ? results.Items : results["data"].Items;
                rows.AddRange(items.Select(Row));
                long total = results["total"].AsNumber() ?? rows.Count;
                if (items.Count < PageSize || rows.Count >= total) return rows;
            }
        }

        private static JsonValue Body(IKuaiMapping mapping)
        {
            List<KeyValuePair<string, JsonValue>> fields = Fields(mapping);
            fields.Add(Pair("tagname", JsonValue.Text(mapping.TagName)));
            fields.Add(Pair("src_addr", JsonValue.Object(("custom", JsonValue.Array(mapping.Sources.Select(JsonValue.Text))), ("object", JsonValue.Array(new JsonValue[0])))));
            return JsonValue.Object(fields);
        }

        public override string Add(IKuaiMapping mapping)
        {
            WriteCalls++;
            JsonValue result = Request(HttpMethod.Post, RulesPath, Body(mapping), $"adding the mapping {mapping.Describe()}");
            return result["rowid"].AsText() ?? result["results"]["rowid"].AsText() ?? result["results"]["id"].AsText();
        }

        public override void Edit(IKuaiMapping mapping)
        {
            WriteCalls++;
            Request(HttpMethod.Put, $"{RulesPath}/{Uri.EscapeDataString(mapping.Id)}", Body(mapping), $"changing the mapping {mapping.Describe()}");
        }

        public override void Delete(string id)
        {
            WriteCalls++;
            Request(HttpMethod.Delete, $"{RulesPath}/{Uri.EscapeDataString(id)}", null, $"deleting the mapping {id}");
        }
    }
}
