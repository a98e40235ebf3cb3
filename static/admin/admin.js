document.getElementById("status").textContent = "Sign-in comes with the admin issue.";
