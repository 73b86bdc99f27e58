/**
 * Throwaway TLS material for tests: a CA and a server certificate for
 * 127.0.0.1/localhost signed by it, made with `openssl` in a temporary
 * directory, plus the redis-server arguments that serve TLS with them.
 *
 * @module
 */

/** PEM files made by {@linkcode makeTlsCerts}; call {@linkcode TlsCerts.remove} when done. */
export interface TlsCerts {
  /** Temporary directory holding every file. */
  dir: string;
  /** CA certificate (PEM) that signed {@linkcode TlsCerts.certFile}. */
  caFile: string;
  /** Server certificate for `127.0.0.1` and `localhost`. */
  certFile: string;
  /** The server certificate's private key. */
  keyFile: string;
  /** A second CA that signed nothing here: trusting it alone must fail. */
  otherCaFile: string;
  /** Deletes {@linkcode TlsCerts.dir}. */
  remove(): Promise<void>;
}

const _NOT_INSTALLED =
  "openssl not found on PATH: install it (apt-get install openssl) to run the TLS tests";

/**
 * Makes a CA, a second unrelated CA and a server certificate (EC P-256,
 * valid one day, SAN `IP:127.0.0.1, DNS:localhost`).
 *
 * @throws {Error} When openssl is missing or fails; the message carries its output.
 */
export async function makeTlsCerts(): Promise<TlsCerts> {
  const dir = await Deno.makeTempDir({ prefix: "dialogue_tls_" });
  const at = (name: string) => `${dir}/${name}`;
  const remove = () => Deno.remove(dir, { recursive: true }).catch(() => {});
  const key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  try {
    for (const ca of ["ca", "other_ca"]) {
      await _openssl([
        "req",
        "-x509",
        ...key,
        "-keyout",
        at(`${ca}.key`),
        "-out",
        at(`${ca}.crt`),
        "-days",
        "1",
        "-subj",
        `/CN=DialogueLLM test ${ca}`,
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
      ]);
    }
    await _openssl([
      "req",
      ...key,
      "-keyout",
      at("server.key"),
      "-out",
      at("server.csr"),
      "-subj",
      "/CN=127.0.0.1",
    ]);
    await Deno.writeTextFile(
      at("server.ext"),
      [
        "basicConstraints=CA:FALSE",
        "keyUsage=critical,digitalSignature,keyEncipherment",
        "extendedKeyUsage=serverAuth",
        "subjectAltName=IP:127.0.0.1,DNS:localhost",
        "",
      ].join("\n"),
    );
    await _openssl([
      "x509",
      "-req",
      "-in",
      at("server.csr"),
      "-CA",
      at("ca.crt"),
      "-CAkey",
      at("ca.key"),
      "-CAcreateserial",
      "-out",
      at("server.crt"),
      "-days",
      "1",
      "-extfile",
      at("server.ext"),
    ]);
  } catch (error) {
    await remove();
    throw error;
  }
  return {
    dir,
    caFile: at("ca.crt"),
    certFile: at("server.crt"),
    keyFile: at("server.key"),
    otherCaFile: at("other_ca.crt"),
    remove,
  };
}

/**
 * redis-server arguments serving TLS on `tlsPort` with `certs`, clients not
 * asked for certificates. The plain port stays open for the test's own
 * inspection client and the helper's readiness check.
 */
export function redisTlsArgs(certs: TlsCerts, tlsPort: number): string[] {
  return [
    "--tls-port",
    String(tlsPort),
    "--tls-cert-file",
    certs.certFile,
    "--tls-key-file",
    certs.keyFile,
    "--tls-ca-cert-file",
    certs.caFile,
    "--tls-auth-clients",
    "no",
  ];
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  listener.close();
  return port;
}

async function _openssl(args: string[]): Promise<void> {
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command("openssl", {
      args,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) throw new Error(_NOT_INSTALLED, { cause: error });
    throw error;
  }
  if (!output.success) {
    const text = new TextDecoder().decode(output.stderr);
    throw new Error(`openssl ${args[0]} failed with code ${output.code}:\n${text}`);
  }
}
