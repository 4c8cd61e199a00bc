// Saves a card or a SEPA Direct Debit mandate with Stripe.js: the details go from the browser
// to Stripe, which confirms the SetupIntent; then the portal reads the SetupIntent back
// (data-return-url?setup_intent=seti_...). Messages come translated from the template.
(function () {
  "use strict";
  const form = document.getElementById("stripe-setup");
  if (!form || typeof Stripe === "undefined") return;
  const data = form.dataset;
  const stripe = Stripe(data.publishableKey);
  const errorBox = document.getElementById("stripe-error");
  const submit = document.getElementById("stripe-submit");
  const billingDetails = { name: data.name, email: data.email };
  let card = null;
  if (data.kind === "card") {
    card = stripe.elements().create("card", { hidePostalCode: true });
    card.mount("#card-element");
  }

  function showError(message) {
    errorBox.textContent = message;
    errorBox.hidden = false;
    submit.disabled = false;
    submit.removeAttribute("aria-busy");
  }

  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    errorBox.hidden = true;
    let result;
    if (data.kind === "sepa_debit") {
      if (!document.getElementById("mandate-accepted").checked) {
        showError(data.messageMandate);
        return;
      }
      submit.disabled = true;
      submit.setAttribute("aria-busy", "true");
      const iban = document.getElementById("iban").value.replace(/\s+/g, "").toUpperCase();
      result = await stripe.confirmSepaDebitSetup(data.clientSecret, {
        payment_method: { sepa_debit: { iban: iban }, billing_details: billingDetails },
      });
    } else {
      submit.disabled = true;
      submit.setAttribute("aria-busy", "true");
      result = await stripe.confirmCardSetup(data.clientSecret, {
        payment_method: { card: card, billing_details: billingDetails },
      });
    }
    if (result.error || !result.setupIntent) {
      showError((result.error && result.error.message) || data.messageFailed);
      return;
    }
    const url = new URL(data.returnUrl, window.location.href);
    url.searchParams.set("setup_intent", result.setupIntent.id);
    window.location.assign(url.toString());
  });
})();
